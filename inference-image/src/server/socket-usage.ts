/** The end of a WebSocket session, the same for every socket route: gauges, counters, its duration and one usage record. */
import type { Caller } from "./auth";
import type { Deps } from "./context";
import { recordTeamRequest } from "./metrics";

export interface SocketUsage {
  /** The upgrade's request id: the usage record's id, as HTTP requests' records carry theirs. */
  requestId: string;
  route: string;
  /** stt-live sessions also count in the live-sessions gauge. */
  feature: "stt-live" | "tts";
  model: string;
  features: string[];
  audioSeconds: number;
  characters: number;
  startedAt: number;
  /** The session's key, and what gives its team's concurrency slot back. */
  caller: Caller;
  releaseTeam: () => void;
}

/** Call once per session, when it ends; the gauges were raised by socketStarted. */
export function socketEnded(deps: Deps, u: SocketUsage): void {
  const { metrics, license } = deps;
  metrics.inflight.dec();
  if (u.feature === "stt-live") metrics.liveSessions.dec();
  metrics.audioSeconds.inc({ feature: u.feature }, u.audioSeconds);
  if (u.characters > 0) metrics.characters.inc(u.characters);
  const seconds = (performance.now() - u.startedAt) / 1000;
  u.releaseTeam();
  const team = u.caller.team.name;
  recordTeamRequest(metrics.teams, team, u.route, 101, { feature: u.feature, audioSeconds: u.audioSeconds, characters: u.characters });
  if (u.feature === "stt-live") metrics.teams.liveSessionSeconds.inc({ team }, seconds);
  metrics.requestDuration.observe({ route: u.route, method: "GET", status: "101" }, seconds);
  license.record({ id: u.requestId, model: u.model, features: u.features, status_code: 101, audio_seconds: u.audioSeconds, characters: u.characters });
}

export function socketStarted(deps: Deps, feature: SocketUsage["feature"]): void {
  deps.metrics.inflight.inc();
  if (feature === "stt-live") deps.metrics.liveSessions.inc();
}
