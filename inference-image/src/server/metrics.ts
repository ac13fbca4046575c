/** The server's Prometheus metrics. `inference_load_ratio{lane}` is what the HPA scales on. */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Speech } from "../engines/types";
import { createRegistry, LATENCY_BUCKETS } from "../shared/metrics";
import type { ApiKeys } from "./auth";
import type { LicenseGate } from "./license";
import type { BodyBudget } from "./uploads";

/** Usage per team, labelled by the team's name only: never a key, a key id or a digest. */
export interface TeamMetrics {
  requests: Counter<"team" | "route" | "status">;
  audioSeconds: Counter<"team" | "feature">;
  characters: Counter<"team">;
  liveSessionSeconds: Counter<"team">;
  rejected: Counter<"team" | "reason">;
}

export interface ServerMetrics {
  registry: Registry;
  requestDuration: Histogram<"route" | "method" | "status">;
  realTimeFactor: Histogram<"feature">;
  ttsFirstByte: Histogram;
  inflight: Gauge;
  liveSessions: Gauge;
  audioSeconds: Counter<"feature">;
  characters: Counter;
  rejected: Counter<"reason">;
  teams: TeamMetrics;
}

export function createServerMetrics(speech: Speech, license: LicenseGate, bodies: BodyBudget, keys: ApiKeys): ServerMetrics {
  const registry = createRegistry();
  const reg = { registers: [registry] };
  new Gauge({
    name: "inference_request_body_bytes_reserved",
    help: "Bytes reserved by request bodies being received or held (bounded by MAX_BUFFERED_BODY_BYTES)",
    ...reg,
    collect() {
      this.set(bodies.reserved);
    },
  });
  new Gauge({
    name: "inference_queue_depth",
    help: "Jobs waiting for an engine worker",
    ...reg,
    collect() {
      this.set(speech.stats().queueDepth);
    },
  });
  new Gauge({
    name: "inference_worker_utilisation",
    help: "Busy engine workers / pool size (0-1)",
    ...reg,
    collect() {
      const s = speech.stats();
      this.set(s.workers > 0 ? s.busyWorkers / s.workers : 0);
    },
  });
  new Gauge({
    name: "inference_workers",
    help: "Engine worker pool size",
    ...reg,
    collect() {
      this.set(speech.stats().workers);
    },
  });
  // The autoscaler's figures: what a replica holds per lane without queueing (laneCapacity), and how full it is.
  new Gauge({
    name: "inference_capacity",
    help: "Work a replica holds without queueing, per engine lane (live: live streams; batch: transcriptions)",
    labelNames: ["lane"],
    ...reg,
    collect() {
      this.reset();
      for (const l of speech.stats().lanes) this.set({ lane: l.lane }, l.capacity);
    },
  });
  new Gauge({
    name: "inference_load_ratio",
    help: "In-flight work over inference_capacity, per engine lane; above 1 work is queueing (what the HPA targets)",
    labelNames: ["lane"],
    ...reg,
    collect() {
      this.reset();
      for (const l of speech.stats().lanes) this.set({ lane: l.lane }, l.capacity > 0 ? l.inflight / l.capacity : 0);
    },
  });
  new Gauge({
    name: "inference_model_info",
    help: "1 for each loaded model, labelled with its engine and execution provider (cpu or cuda)",
    labelNames: ["model", "engine", "provider"],
    ...reg,
    collect() {
      this.reset();
      for (const m of [speech.stt, speech.tts]) this.set({ model: m.id, engine: m.engine, provider: m.provider }, 1);
    },
  });
  new Gauge({
    name: "inference_license_allowed",
    help: "1 when the license allows serving (always 1 in local mode)",
    ...reg,
    collect() {
      this.set(license.status().allowed ? 1 : 0);
    },
  });
  new Gauge({
    name: "inference_usage_records_pending",
    help: "Usage records waiting for the license proxy's acknowledgement",
    ...reg,
    collect() {
      this.set(license.usageBacklog().pending);
    },
  });
  new Gauge({
    name: "inference_usage_records_invalid",
    help: "Usage records dropped because they break the license proxy's contract (checked here, or refused by the proxy)",
    ...reg,
    collect() {
      this.set(license.usageBacklog().invalid);
    },
  });
  new Gauge({
    name: "inference_usage_records_dropped",
    help: "Usage records dropped because the in-memory buffer was full (proxy unreachable for long)",
    ...reg,
    collect() {
      this.set(license.usageBacklog().dropped);
    },
  });
  new Gauge({
    name: "inference_team_inflight",
    help: "Speech requests and live sessions in progress, by team (what the team's concurrent limit counts)",
    labelNames: ["team"],
    ...reg,
    collect() {
      this.reset();
      for (const team of keys.teamList()) this.set({ team: team.name }, team.inFlight);
    },
  });
  new Counter({
    name: "inference_api_keys_reload_failures_total",
    help: "Reloads of API_KEYS_FILE that failed to parse; the last good keys stayed in force",
    ...reg,
    collect() {
      this.reset();
      this.inc(keys.reloadFailures);
    },
  });
  return {
    registry,
    requestDuration: new Histogram({
      name: "inference_http_request_duration_seconds",
      help: "HTTP request duration by route, method and status (live sessions: whole session)",
      labelNames: ["route", "method", "status"],
      buckets: LATENCY_BUCKETS,
      ...reg,
    }),
    realTimeFactor: new Histogram({
      name: "inference_real_time_factor",
      help: "Processing time / audio duration per request",
      labelNames: ["feature"],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5],
      ...reg,
    }),
    ttsFirstByte: new Histogram({
      name: "inference_tts_first_byte_seconds",
      help: "Time from request to the first audio byte of synthesized speech",
      buckets: LATENCY_BUCKETS,
      ...reg,
    }),
    inflight: new Gauge({ name: "inference_inflight_requests", help: "Speech requests and live sessions in progress", ...reg }),
    liveSessions: new Gauge({ name: "inference_live_sessions", help: "Open live transcription WebSockets", ...reg }),
    audioSeconds: new Counter({
      name: "inference_audio_seconds_total",
      help: "Seconds of audio transcribed or synthesized",
      labelNames: ["feature"],
      ...reg,
    }),
    characters: new Counter({ name: "inference_characters_total", help: "Characters of text synthesized", ...reg }),
    rejected: new Counter({
      name: "inference_rejected_requests_total",
      help: "Requests refused before reaching an engine, by reason",
      labelNames: ["reason"],
      ...reg,
    }),
    teams: {
      requests: new Counter({ name: "inference_team_requests_total", help: "Authenticated requests by team, route and status (live sessions: 101 when they end)", labelNames: ["team", "route", "status"], ...reg }),
      audioSeconds: new Counter({ name: "inference_team_audio_seconds_total", help: "Seconds of audio transcribed or synthesized, by team", labelNames: ["team", "feature"], ...reg }),
      characters: new Counter({ name: "inference_team_characters_total", help: "Characters of text synthesized, by team", labelNames: ["team"], ...reg }),
      liveSessionSeconds: new Counter({ name: "inference_team_live_session_seconds_total", help: "Wall-clock seconds of live sessions, by team", labelNames: ["team"], ...reg }),
      rejected: new Counter({ name: "inference_team_rejected_requests_total", help: "Authenticated requests refused, by team and reason (scope, limits, queue, bad input)", labelNames: ["team", "reason"], ...reg }),
    },
  };
}

/** One authenticated request's line in the team usage metrics; `usage` for speech requests that were admitted. */
export function recordTeamRequest(m: TeamMetrics, team: string, route: string, status: number, usage?: { feature: string; audioSeconds: number; characters: number }): void {
  m.requests.inc({ team, route, status: String(status) });
  if (!usage) return;
  if (usage.audioSeconds > 0) m.audioSeconds.inc({ team, feature: usage.feature }, usage.audioSeconds);
  if (usage.characters > 0) m.characters.inc({ team }, usage.characters);
}
