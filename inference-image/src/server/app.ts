/**
 * The inference server: plain node:http + ws + busboy. A framework would add little here: there are a
 * dozen routes, the speech routes need raw streamed bodies and chunked streamed answers, and the live
 * route needs the raw upgrade; plain node keeps the dependency list (and the image) small.
 *
 * `createInferenceServer` composes the route table (routes.ts) and the request pipeline (pipeline.ts) every
 * request and upgrade passes through. It takes the `Speech` instance (dependency injection), so tests run it
 * with the real engines and `main.ts` with whatever the environment configures.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
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
  const deps: Deps = { speech, config, license, metrics: createServerMetrics(speech, license, bodies, keys), logger };
  const pipeline: Pipeline = new Pipeline(deps, keys, bodies, routeTable(deps, { shuttingDown: () => pipeline.shuttingDown }));

  // Whatever escapes the pipeline closes that connection (logged by kind), and never reaches the process.
  const lastResort = (socket: Duplex, err: unknown) => {
    logger.error("request failed outside its handler", { error: (err as Error)?.name, detail: (err as Error)?.message });
    socket.destroy();
  };
  const server = createServer({ requestTimeout: config.REQUEST_TIMEOUT_MS, headersTimeout: headersTimeoutMs(config), noDelay: true }, (req, res) => {
    pipeline.request(req, res).catch((err: unknown) => lastResort(res.socket ?? req.socket, err));
  });
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
    async close() {
      if (pipeline.shuttingDown) return;
      const closeStarted = Date.now();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      const drained = pipeline.close();
      server.closeIdleConnections();
      let graceTimer: NodeJS.Timeout | undefined;
      const grace = new Promise<"timeout">((resolve) => (graceTimer = setTimeout(() => resolve("timeout"), config.SHUTDOWN_GRACE_MS)));
      const outcome = await Promise.race([drained, grace]);
      clearTimeout(graceTimer);
      if (outcome === "timeout") logger.warn("shutdown grace ended with work in flight; closing connections", { in_flight: pipeline.inFlight });
      server.closeAllConnections();
      await stopped;
      // Usage keeps being retried for what is left of the grace (at least 1 s).
      await license.close(Math.max(1000, config.SHUTDOWN_GRACE_MS - (Date.now() - closeStarted)));
    },
  };
}
