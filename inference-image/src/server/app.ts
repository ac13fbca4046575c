/**
 * The inference server: plain node:http + ws + busboy. A framework would add little here: there are a
 * dozen routes, the speech routes need raw streamed bodies and chunked streamed answers, and the live
 * route needs the raw upgrade; plain node keeps the dependency list (and the image) small.
 *
 * `createInferenceServer` composes the route table (routes.ts) and the request pipeline (pipeline.ts) every
 * request and upgrade passes through. It takes the `Speech` instance (dependency injection), so tests run it
 * with the real engines and `main.ts` with whatever the environment configures.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import { type AddressInfo, Server as NetServer } from "node:net";
import type { SecureContextOptions } from "node:tls";
import type { Duplex } from "node:stream";
import type { Speech } from "../engines/types";
import { HttpError, KEEP_ALIVE_TIMEOUT_MS } from "../shared/http";
import { type Logger, silentLogger } from "../shared/log";
import type { ApiKeys } from "./auth";
import { headersTimeoutMs, type ServerConfig } from "./config";
import type { Deps } from "./context";
import { errorBody } from "./errors";
import { rawJsonResponse } from "./http";
import { type LicenseGate, LocalLicense } from "./license";
import { createServerMetrics, type ServerMetrics } from "./metrics";
import { Pipeline } from "./pipeline";
import { routeTable } from "./routes";
import { BodyBudget } from "./uploads";

export interface InferenceServerOptions {
  speech: Speech;
  config: ServerConfig;
  keys: ApiKeys;
  license?: LicenseGate;
  logger?: Logger;
  /** Serve HTTPS (and WebSockets over TLS) with this certificate and key (tls.ts); plain HTTP without it. */
  tls?: SecureContextOptions;
}

export interface InferenceServer {
  server: Server;
  metrics: ServerMetrics;
  license: LicenseGate;
  listen(port: number, host?: string): Promise<AddressInfo>;
  /** Stop accepting connections, drain the open ones without a reset, finish in-flight requests and live sessions (up to SHUTDOWN_GRACE_MS), flush usage. Does not close the Speech. */
  close(): Promise<void>;
}

export function createInferenceServer(options: InferenceServerOptions): InferenceServer {
  const { speech, config, keys } = options;
  const logger = options.logger ?? silentLogger;
  const license = options.license ?? new LocalLicense();
  const bodies = new BodyBudget(config.MAX_BUFFERED_BODY_BYTES, config.MAX_BODY_BYTES);
  const deps: Deps = { speech, config, license, metrics: createServerMetrics(speech, license, bodies, keys), logger };
  const pipeline: Pipeline = new Pipeline(deps, keys, bodies, routeTable(deps, { shuttingDown: () => pipeline.shuttingDown }));

  // Whatever escapes the pipeline closes that connection (logged by kind), and never reaches the process.
  const lastResort = (socket: Duplex, err: unknown) => {
    logger.error("request failed outside its handler", { error: (err as Error)?.name, detail: (err as Error)?.message });
    socket.destroy();
  };
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    pipeline.request(req, res).catch((err: unknown) => lastResort(res.socket ?? req.socket, err));
  };
  const serverOptions = { requestTimeout: config.REQUEST_TIMEOUT_MS, headersTimeout: headersTimeoutMs(config), noDelay: true };
  // An https.Server is a node:http server behind TLS: same routes, timeouts and upgrades.
  const server: Server = options.tls ? (createTlsServer({ ...serverOptions, ...options.tls }, listener) as unknown as Server) : createServer(serverOptions, listener);
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.on("upgrade", (req, socket: Duplex, head: Buffer) => {
    // node:http hands the socket over without its own error listener: a reset (ECONNRESET) would be fatal.
    socket.on("error", () => socket.destroy());
    pipeline.upgrade(req, socket, head).catch((err: unknown) => lastResort(socket, err));
  });
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable || err.code === "ECONNRESET") return void socket.destroy();
    const [status, code, message] =
      err.code === "HPE_HEADER_OVERFLOW"
        ? [431, "headers_too_large", "the request headers are too large"]
        : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? [408, "request_timeout", `the request was not received within ${config.REQUEST_TIMEOUT_MS} ms`]
          : [400, "bad_request", "malformed HTTP request"];
    socket.end(rawJsonResponse(status, errorBody(new HttpError(status, code, message), "openai", "")));
  });

  /**
   * Shutdown without a dropped request. Node's server.close() also closes idle keep-alive connections at
   * once, and a client that is just sending a request on one gets a reset; so: stop listening only, answer
   * every request still arriving on an open connection (with Connection: close, which ends it), close the
   * connections left idle after SHUTDOWN_IDLE_CLOSE_MS, then refuse speech, end sessions and wait for the
   * work in flight, all within SHUTDOWN_GRACE_MS.
   */
  const drainAndClose = async (): Promise<void> => {
    const closeStarted = Date.now();
    const graceLeft = () => Math.max(0, config.SHUTDOWN_GRACE_MS - (Date.now() - closeStarted));
    const stopped = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
    pipeline.drain();
    // Cleared once the race is decided: a stopped server leaves no timer behind.
    const timers: NodeJS.Timeout[] = [];
    const after = (ms: number) => new Promise<void>((resolve) => timers.push(setTimeout(resolve, ms)));
    const idleWaitOver = await Promise.race([stopped.then(() => false), after(Math.min(config.SHUTDOWN_IDLE_CLOSE_MS, graceLeft())).then(() => true)]);
    if (idleWaitOver) server.closeIdleConnections();
    const drained = pipeline.close();
    const outcome = await Promise.race([drained, after(graceLeft()).then(() => "timeout" as const)]);
    timers.forEach(clearTimeout);
    if (outcome === "timeout") logger.warn("shutdown grace ended with work in flight; closing connections", { in_flight: pipeline.inFlight });
    server.closeAllConnections();
    await stopped;
    // Usage keeps being retried for what is left of the grace (at least 1 s).
    await license.close(Math.max(1000, graceLeft()));
  };
  let closing: Promise<void> | undefined;

  return {
    server,
    metrics: deps.metrics,
    license,
    listen: (port, host = "127.0.0.1") =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve(server.address() as AddressInfo);
        });
      }),
    close() {
      closing ??= drainAndClose();
      return closing;
    },
  };
}
