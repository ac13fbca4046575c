/**
 * The route table: every route the server answers, with its family, access, parameter schemas, handler and
 * documentation. A new route family is an entry here and a schema in src/params/; the pipeline does the rest.
 */
import { listenQuery } from "../params/deepgram-listen";
import { speakBody, speakQuery } from "../params/deepgram-speak";
import { speechBody, transcriptionForm } from "../params/openai-audio";
import { serveMetrics } from "../shared/metrics";
import { type Deps, httpRoute, jsonReply, type Route } from "./context";
import { listen, speak } from "./deepgram";
import { liveRoute } from "./live";
import { modelList } from "./models";
import { speech, transcriptions } from "./openai";
import { openApiDocument, SPEECH_AUDIO, TRANSCRIPT_TYPES } from "./openapi";
import { realtimeRoute } from "./realtime";
import { speakSocketRoute } from "./speak-socket";

/** What the health routes read from the server around them. */
export interface ServerState {
  shuttingDown(): boolean;
}

export function routeTable(deps: Deps, state: ServerState): Route[] {
  const { speech: engines, license, metrics } = deps;
  const created = Math.floor(Date.now() / 1000);
  const health = () => {
    const lic = license.status();
    const ready = engines.ready && lic.allowed && !state.shuttingDown();
    return {
      status: ready ? "ready" : "not_ready",
      engines_loaded: engines.ready,
      shutting_down: state.shuttingDown(),
      license: lic,
      models: { stt: engines.stt.id, tts: engines.tts.id },
      // What runs where: each model's engine and execution provider.
      engines: [engines.stt, engines.tts].map((m) => ({ model: m.id, kind: m.kind, engine: m.engine, provider: m.provider })),
      ...engines.stats(),
    };
  };
  const routes: Route[] = [
    httpRoute({
      kind: "http",
      method: "GET",
      path: "/health/live",
      family: "openai",
      auth: false,
      doc: { summary: "Liveness (no key)", open: true, ok: { description: "Alive", content: { "application/json": { type: "object" } } } },
      handle: () => jsonReply(200, { status: "ok", mode: license.status().mode }),
    }),
    httpRoute({
      kind: "http",
      method: "GET",
      path: "/health/ready",
      family: "openai",
      auth: false,
      doc: { summary: "Readiness: models loaded and license allows serving (no key); 503 when not", open: true, ok: { description: "Ready", content: { "application/json": { type: "object" } } } },
      handle: () => {
        const h = health();
        return jsonReply(h.status === "ready" ? 200 : 503, h);
      },
    }),
    httpRoute({
      kind: "http",
      method: "GET",
      path: "/metrics",
      family: "openai",
      auth: false,
      doc: { summary: "Prometheus metrics (no key)", open: true, ok: { description: "Prometheus text", content: { "text/plain": { type: "string" } } } },
      handle: ({ req, res }) => serveMetrics(metrics.registry, req, res),
    }),
    httpRoute({
      kind: "http",
      method: "GET",
      path: "/openapi.json",
      family: "openai",
      auth: false,
      doc: { summary: "This document (no key)", open: true, ok: { description: "OpenAPI 3.1", content: { "application/json": { type: "object" } } } },
      handle: () => jsonReply(200, openApiDocument(engines, routes)),
    }),
    httpRoute({
      kind: "http",
      method: "GET",
      path: "/v1/models",
      family: "openai",
      auth: true,
      doc: { summary: "Models and the client names that map to them", ok: { description: "OpenAI-style model list", content: { "application/json": { type: "object" } } } },
      handle: () => jsonReply(200, modelList(engines, created)),
    }),
    httpRoute({
      kind: "http",
      method: "POST",
      path: "/v1/audio/transcriptions",
      family: "openai",
      auth: true,
      feature: "stt",
      work: "transcribe",
      body: { type: "form", schema: transcriptionForm },
      doc: { summary: "Transcribe an audio file (OpenAI)", ok: { description: "Transcript in the requested format", content: TRANSCRIPT_TYPES }, errors: [400, 413, 415] },
      handle: transcriptions,
    }),
    httpRoute({
      kind: "http",
      method: "POST",
      path: "/v1/audio/speech",
      family: "openai",
      auth: true,
      feature: "tts",
      work: "synthesize",
      body: { type: "json", schema: speechBody },
      doc: { summary: "Synthesize speech (OpenAI), streamed as it is produced", ok: { description: "Audio", content: SPEECH_AUDIO }, errors: [400, 413] },
      handle: speech,
    }),
    httpRoute({
      kind: "http",
      method: "POST",
      path: "/v1/listen",
      family: "deepgram",
      auth: true,
      feature: "stt",
      work: "transcribe",
      query: listenQuery,
      doc: {
        summary: "Transcribe pre-recorded audio (Deepgram); the body is the audio itself, never a URL",
        rawBody: ["audio/*", "application/octet-stream"],
        ok: { description: "Transcript", content: { "application/json": { $ref: "#/components/schemas/DeepgramResponse" } } },
        errors: [400, 413, 415],
      },
      handle: listen,
    }),
    httpRoute({
      kind: "http",
      method: "POST",
      path: "/v1/speak",
      family: "deepgram",
      auth: true,
      feature: "tts",
      work: "synthesize",
      query: speakQuery,
      body: { type: "json", schema: speakBody },
      doc: { summary: "Synthesize speech (Deepgram), streamed as it is produced", ok: { description: "Audio", content: SPEECH_AUDIO }, errors: [400, 413] },
      handle: speak,
    }),
    liveRoute,
    speakSocketRoute,
    realtimeRoute,
  ];
  return routes;
}
