/**
 * The inference server: plain node:http + ws + busboy. A framework would add little here: there are a
 * dozen routes, the speech routes need raw streamed bodies and chunked streamed answers, and the live
 * route needs the raw upgrade; plain node keeps the dependency list (and the image) small.
 *
 * `createInferenceServer` takes the `Speech` instance (dependency injection), so tests run it with the
 * real engines and `main.ts` with whatever the environment configures.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type { Speech } from "../engines/types";
import { HttpError, KEEP_ALIVE_TIMEOUT_MS, sendJson } from "../shared/http";
import type { Feature } from "../shared/license-protocol";
import { type Logger, silentLogger } from "../shared/log";
import { serveMetrics } from "../shared/metrics";
import { type ApiKeys, authenticate, type Caller } from "./auth";
import { headersTimeoutMs, type ServerConfig } from "./config";
import type { Deps, RequestContext } from "./context";
import { listen, speak } from "./deepgram";
import { type ErrorFamily, errorBody, requestIdHeader, toHttpError } from "./errors";
import { rawJsonResponse, requestTarget } from "./http";
import { type LicenseGate, LocalLicense } from "./license";
import { LiveEndpoint } from "./live";
import { createServerMetrics, recordTeamRequest, type ServerMetrics } from "./metrics";
import { RealtimeRoute } from "./realtime";
import { SpeakSocketRoute } from "./speak-socket";
import { modelList } from "./models";
import { BodyBudget } from "./uploads";
import { speech as openaiSpeech, transcriptions } from "./openai";
import { openApiDocument } from "./openapi";

interface Route {
  method: "GET" | "POST";
  path: string;
  family: ErrorFamily;
  /** Speech routes: need a key, a license, count as in flight, and produce a usage record. */
  feature?: Feature;
  auth: boolean;
  handler: (ctx: RequestContext) => Promise<void> | void;
}

export interface InferenceServerOptions {
  speech: Speech;
  config: ServerConfig;
  keys: ApiKeys;
  license?: LicenseGate;
  logger?: Logger;
}

export interface InferenceServer {
  server: Server;
  metrics: ServerMetrics;
  license: LicenseGate;
  listen(port: number, host?: string): Promise<AddressInfo>;
  /** Stop accepting, finish in-flight requests and live sessions (up to SHUTDOWN_GRACE_MS), flush usage. Does not close the Speech. */
  close(): Promise<void>;
}

export function createInferenceServer(options: InferenceServerOptions): InferenceServer {
  const { speech, config, keys } = options;
  const logger = options.logger ?? silentLogger;
  const license = options.license ?? new LocalLicense();
  const bodies = new BodyBudget(config.MAX_BUFFERED_BODY_BYTES, config.MAX_BODY_BYTES);
  const metrics = createServerMetrics(speech, license, bodies, keys);
  const deps: Deps = { speech, config, license, metrics, logger };
  const live = new LiveEndpoint(deps, keys);
  const sockets = [live, new SpeakSocketRoute(deps, keys), new RealtimeRoute(deps, keys)];
  const socketPaths = sockets.map((r) => r.route);
  const created = Math.floor(Date.now() / 1000);
  let inFlight = 0;
  let shuttingDown = false;
  let drained: (() => void) | undefined;

  const health = () => {
    const lic = license.status();
    const ready = speech.ready && lic.allowed && !shuttingDown;
    return {
      status: ready ? "ready" : "not_ready",
      engines_loaded: speech.ready,
      shutting_down: shuttingDown,
      license: lic,
      models: { stt: speech.stt.id, tts: speech.tts.id },
      // What runs where: each model's engine and execution provider.
      engines: [speech.stt, speech.tts].map((m) => ({ model: m.id, kind: m.kind, engine: m.engine, provider: m.provider })),
      ...speech.stats(),
    };
  };

  const routes: Route[] = [
    { method: "GET", path: "/health/live", family: "openai", auth: false, handler: ({ res }) => sendJson(res, 200, { status: "ok", mode: license.status().mode }) },
    {
      method: "GET",
      path: "/health/ready",
      family: "openai",
      auth: false,
      handler: ({ res }) => {
        const h = health();
        sendJson(res, h.status === "ready" ? 200 : 503, h);
      },
    },
    { method: "GET", path: "/metrics", family: "openai", auth: false, handler: ({ req, res }) => serveMetrics(metrics.registry, req, res) },
    { method: "GET", path: "/openapi.json", family: "openai", auth: false, handler: ({ res }) => sendJson(res, 200, openApiDocument(deps)) },
    { method: "GET", path: "/v1/models", family: "openai", auth: true, handler: ({ res }) => sendJson(res, 200, modelList(deps, created)) },
    { method: "POST", path: "/v1/audio/transcriptions", family: "openai", auth: true, feature: "stt", handler: transcriptions },
    { method: "POST", path: "/v1/audio/speech", family: "openai", auth: true, feature: "tts", handler: openaiSpeech },
    { method: "POST", path: "/v1/listen", family: "deepgram", auth: true, feature: "stt", handler: listen },
    { method: "POST", path: "/v1/speak", family: "deepgram", auth: true, feature: "tts", handler: speak },
  ];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const startedAt = performance.now();
    const requestId = randomUUID();
    const url = requestTarget(req);
    const pathname = url?.pathname ?? "";
    const samePath = routes.filter((r) => r.path === pathname);
    const route = samePath.find((r) => r.method === req.method);
    const family: ErrorFamily = route?.family ?? samePath[0]?.family ?? "openai";
    const label = route?.path ?? (samePath.length > 0 ? pathname : "unmatched");
    res.setHeader(requestIdHeader(family), requestId);
    if (shuttingDown) res.setHeader("connection", "close");
    const ctx: RequestContext = {
      ...deps,
      req,
      res,
      query: url?.searchParams ?? new URLSearchParams(),
      requestId,
      startedAt,
      usage: { feature: route?.feature ?? "stt", model: "", features: route?.feature ? [route.feature] : [], audioSeconds: 0, characters: 0 },
    };
    inFlight++;
    let counted = false;
    let recorded = false;
    const recordUsage = (status: number) => {
      if (recorded) return;
      recorded = true;
      license.record({
        id: requestId,
        model: ctx.usage.model || (route?.feature === "tts" ? speech.tts.id : speech.stt.id),
        features: ctx.usage.features,
        status_code: status,
        audio_seconds: ctx.usage.audioSeconds,
        characters: ctx.usage.characters,
      });
    };
    let caller: Caller | undefined;
    let releaseTeam: (() => void) | undefined;
    let releaseBody: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      if (!url) throw new HttpError(400, "invalid_request_target", "the request-target is not a valid path");
      if (!route) {
        if (req.method === "GET" && socketPaths.includes(pathname)) {
          throw new HttpError(426, "upgrade_required", `GET ${pathname} is a WebSocket: send an Upgrade request`, { upgrade: "websocket", connection: "Upgrade" });
        }
        if (samePath.length > 0) throw new HttpError(405, "method_not_allowed", `${req.method} is not allowed on ${pathname}`, { allow: samePath.map((r) => r.method).join(", ") });
        throw new HttpError(404, "not_found", `no route ${req.method} ${pathname.slice(0, 128)}`);
      }
      if (route.auth) caller = authenticate(keys, req, false);
      if (route.feature) {
        if (shuttingDown) throw new HttpError(503, "shutting_down", "the server is shutting down", { "retry-after": "1" });
        license.check(route.feature);
        // Refuse while the body is still unread: a team over its limits or a full queue must cost the client no upload and us no decode.
        releaseTeam = caller?.team.admit(route.feature);
        speech.admit(route.feature === "tts" ? "synthesize" : "transcribe");
        releaseBody = bodies.admit(req);
        metrics.inflight.inc();
        counted = true;
        // Written ahead (USAGE_WAL_DIR) before the response's last bytes are handed to the socket, so a
        // client that saw its answer complete is never missing from usage, whenever the process dies.
        const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
        res.end = ((...args: unknown[]) => {
          recordUsage(res.statusCode);
          return end(...args);
        }) as typeof res.end;
      }
      const work = Promise.resolve(route.handler(ctx));
      // The engine job cannot be cancelled; after a timeout its late result is dropped (writes check headersSent).
      work.catch(() => undefined);
      await Promise.race([
        work,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new HttpError(504, "timeout", `the request took longer than ${config.REQUEST_TIMEOUT_MS} ms`)), config.REQUEST_TIMEOUT_MS);
        }),
      ]);
    } catch (err) {
      const e = toHttpError(err, logger, requestId);
      if (e.status !== 500) metrics.rejected.inc({ reason: e.code });
      if (caller && e.status !== 500) metrics.teams.rejected.inc({ team: caller.team.name, reason: e.code });
      if (!res.headersSent) sendJson(res, e.status, errorBody(e, family, requestId), e.headers);
      else res.destroy();
    } finally {
      clearTimeout(timer);
      releaseBody?.();
      const status = res.headersSent ? res.statusCode : 499;
      metrics.requestDuration.observe({ route: label, method: req.method ?? "", status: String(status) }, (performance.now() - startedAt) / 1000);
      releaseTeam?.();
      if (caller) recordTeamRequest(metrics.teams, caller.team.name, label, status, counted ? ctx.usage : undefined);
      if (counted) {
        metrics.inflight.dec();
        recordUsage(status);
      }
      if (--inFlight === 0 && drained) drained();
    }
  };

  // The one place every request's and every upgrade's failure ends: whatever escapes a handler closes
  // that connection (logged by kind), and never reaches the process.
  const lastResort = (socket: Duplex, err: unknown) => {
    logger.error("request failed outside its handler", { error: (err as Error)?.name, detail: (err as Error)?.message });
    socket.destroy();
  };
  const server = createServer({ requestTimeout: config.REQUEST_TIMEOUT_MS, headersTimeout: headersTimeoutMs(config), noDelay: true }, (req, res) => {
    handle(req, res).catch((err: unknown) => lastResort(res.socket ?? req.socket, err));
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.on("upgrade", (req, socket: Duplex, head: Buffer) => {
    // node:http hands the socket over without its own error listener: a reset (ECONNRESET) would be fatal.
    socket.on("error", () => socket.destroy());
    const target = requestTarget(req);
    if (!target) {
      socket.end(rawJsonResponse(400, errorBody(new HttpError(400, "invalid_request_target", "the request-target is not a valid path"), "deepgram", randomUUID())));
      return;
    }
    // One dispatcher by path; /v1/listen and every unknown path (refused there) go to the live endpoint.
    const route = sockets.find((r) => r.route === target.pathname) ?? live;
    route.handleUpgrade(req, socket, head, target).catch((err: unknown) => lastResort(socket, err));
  });
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable || err.code === "ECONNRESET") {
      socket.destroy();
      return;
    }
    const [status, code, message] =
      err.code === "HPE_HEADER_OVERFLOW"
        ? [431, "headers_too_large", "the request headers are too large"]
        : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? [408, "request_timeout", `the request was not received within ${config.REQUEST_TIMEOUT_MS} ms`]
          : [400, "bad_request", "malformed HTTP request"];
    socket.end(rawJsonResponse(status, errorBody(new HttpError(status, code, message), "openai", "")));
  });

  return {
    server,
    metrics,
    license,
    listen: (port, host = "127.0.0.1") =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve(server.address() as AddressInfo);
        });
      }),
    async close() {
      if (shuttingDown) return;
      shuttingDown = true;
      const closeStarted = Date.now();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const requestsDone = inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => (drained = resolve));
      let graceTimer: NodeJS.Timeout | undefined;
      const grace = new Promise<"timeout">((resolve) => (graceTimer = setTimeout(() => resolve("timeout"), config.SHUTDOWN_GRACE_MS)));
      const outcome = await Promise.race([Promise.all([requestsDone, ...sockets.map((r) => r.shutdown())]), grace]);
      clearTimeout(graceTimer);
      if (outcome === "timeout") logger.warn("shutdown grace ended with work in flight; closing connections", { in_flight: inFlight });
      server.closeAllConnections();
      await stopped;
      // Usage keeps being retried for what is left of the grace (at least 1 s).
      await license.close(Math.max(1000, config.SHUTDOWN_GRACE_MS - (Date.now() - closeStarted)));
    },
  };
}
