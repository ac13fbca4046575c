/** The end of a WebSocket session, the same for every socket route: gauges, counters, its duration and one usage record. */
import type { Deps } from "./context";

export interface SocketUsage {
  route: string;
  /** stt-live sessions also count in the live-sessions gauge. */
  feature: "stt-live" | "tts";
  model: string;
  features: string[];
  audioSeconds: number;
  characters: number;
  startedAt: number;
}

/** Call once per session, when it ends; the gauges were raised by socketStarted. */
export function socketEnded(deps: Deps, u: SocketUsage): void {
  const { metrics, license } = deps;
  metrics.inflight.dec();
  if (u.feature === "stt-live") metrics.liveSessions.dec();
  metrics.audioSeconds.inc({ feature: u.feature }, u.audioSeconds);
  if (u.characters > 0) metrics.characters.inc(u.characters);
  metrics.requestDuration.observe({ route: u.route, method: "GET", status: "101" }, (performance.now() - u.startedAt) / 1000);
  license.record({ model: u.model, features: u.features, status_code: 101, audio_seconds: u.audioSeconds, characters: u.characters });
}

export function socketStarted(deps: Deps, feature: SocketUsage["feature"]): void {
  deps.metrics.inflight.inc();
  if (feature === "stt-live") deps.metrics.liveSessions.inc();
}
