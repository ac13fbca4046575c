/**
 * The one request pipeline. Every HTTP request and every WebSocket upgrade passes through the same named stages,
 * as fastify's hooks apply to its WebSocket routes:
 *
 *   identify      request id, route (404, 405, 426), error family
 *   authenticate  the API key, when the route needs one (401)
 *   admit         speech routes: shutdown (503), license (403/503), team scope and limits (403/429), parameters (400),
 *                 capacity (429: the engine queue, or the engine stream a socket reserves), body budget (429);
 *                 each admission that holds something returns its release
 *   handle        the route's handler with its typed parameters (HTTP, within REQUEST_TIMEOUT_MS), or the upgrade
 *                 and the session (sockets)
 *   account       from one outcome: in-flight, durations, rejections, team counters, the usage record; then releases
 *
 * For HTTP the pipeline ends every response itself, after `account`: the usage record is written ahead of the
 * response's last bytes without wrapping res.end. Sessions are accounted for when they end, before their close frame.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { WebSocket } from "ws";
import type { ZodType } from "zod/v4";
import { HttpError, readJson, sendJson } from "../shared/http";
import { type ApiKeys, authenticate, type Caller } from "./auth";
import type { Deps, HttpRoute, OpenSocket, Reply, RequestContext, Route, SocketRoute, Usage } from "./context";
import { type ErrorFamily, errorBody, requestIdHeader, toHttpError } from "./errors";
import { mediaType, requestTarget } from "./http";
import { recordTeamRequest } from "./metrics";
import { readMultipart } from "./multipart";
import { paramsObject, requireParams } from "./params";
import { acceptUpgrade, rejectUpgrade, socketServers } from "./sockets";
import type { BodyBudget } from "./uploads";

/** One request or session on its way through the stages. */
interface Exchange {
  readonly requestId: string;
  readonly startedAt: number;
  readonly method: string;
  route?: Route;
  family: ErrorFamily;
  /** The route label metrics carry (a known path, or "unmatched"). */
  label: string;
  caller?: Caller;
  /** Admitted to speech work: counted in flight, and recorded in usage. */
  admitted: boolean;
  usage: Usage;
  releases: (() => void)[];
}

/** How an exchange ended, the one input of `account`. */
interface Outcome {
  status: number;
  error?: HttpError;
}

export class Pipeline {
  private readonly sockets = socketServers();
  private readonly open = new Set<OpenSocket>();
  private requests = 0;
  private drained: (() => void) | undefined;
  private accepting = true;

  constructor(
    private readonly deps: Deps,
    private readonly keys: ApiKeys,
    private readonly bodies: BodyBudget,
    private readonly routes: readonly Route[],
  ) {
    // A key taken out of the keys file ends its open sessions too (1008), not only its next requests.
    keys.onRevoke((revoked) => {
      for (const s of this.open) if (revoked.has(s.caller.digest)) s.revoke();
    });
  }

  get shuttingDown(): boolean {
    return !this.accepting;
  }

  /** An HTTP request, through every stage. */
  async request(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests++;
    const ex = this.identify(req, false);
    res.setHeader(requestIdHeader(ex.family), ex.requestId);
    if (!this.accepting) res.setHeader("connection", "close");
    const ctx: RequestContext = { ...this.deps, req, res, requestId: ex.requestId, startedAt: ex.startedAt, usage: ex.usage };
    let reply: Reply | void = undefined;
    let error: HttpError | undefined;
    try {
      const route = this.found(ex, req);
      if (route.kind !== "http") throw new HttpError(426, "upgrade_required", `GET ${route.path} is a WebSocket: send an Upgrade request`, { upgrade: "websocket", connection: "Upgrade" });
      this.authenticate(ex, req, false);
      this.admit(ex);
      const query = route.query && this.queryParams(route.query, req);
      this.capacity(ex, route, req);
      reply = await this.handle(route, ctx, query);
    } catch (err) {
      error = toHttpError(err, this.deps.logger, ex.requestId);
    }
    try {
      this.account(ex, { status: error && !res.headersSent ? error.status : (reply?.status ?? res.statusCode), error });
    } finally {
      this.respond(ex, res, reply, error);
      if (--this.requests === 0) this.drained?.();
    }
  }

  /** A WebSocket upgrade, through every stage; the session is accounted for when it ends. */
  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const ex = this.identify(req, true);
    // What the session would have taken over: given back (after the account, so the team's slot is free first) when it does not start.
    let reservation: (() => Promise<void> | void) | undefined;
    try {
      const route = this.found(ex, req);
      if (route.kind !== "socket") throw new HttpError(404, "not_found", `no WebSocket route at ${ex.label.slice(0, 64)}; WebSocket routes: ${this.socketPaths().join(", ")}`);
      this.authenticate(ex, req, true);
      this.admit(ex);
      const params = this.queryParams(route.query, req);
      // Capacity: what the session needs (an engine stream), reserved now so a full server answers 429 before the upgrade.
      const reserved = await route.reserve(this.deps, params);
      reservation = () => route.release(reserved);
      if (!this.accepting) throw new HttpError(503, "shutting_down", "the server is shutting down", { "retry-after": "1" });
      // The client left while it waited: nothing was refused, nothing started.
      const left = socket.destroyed;
      // Or ws refused a malformed handshake itself: it answered 400 and closed the socket without calling back.
      if (left || !acceptUpgrade(this.sockets[ex.family], req, socket, head, ex.requestId, (ws) => this.startSession(ex, route, ws, params, reserved))) {
        this.account(ex, { status: left ? 499 : 400 });
        await reservation();
      }
    } catch (err) {
      const e = toHttpError(err, this.deps.logger, ex.requestId);
      this.account(ex, { status: e.status, error: e });
      rejectUpgrade(socket, e, ex.requestId, ex.family);
      await reservation?.();
    }
  }

  /** Stop accepting, end open sessions (1001) and wait for requests in flight. */
  async close(): Promise<void> {
    this.accepting = false;
    const requestsDone = this.requests === 0 ? Promise.resolve() : new Promise<void>((resolve) => (this.drained = resolve));
    await Promise.all([requestsDone, ...[...this.open].map((s) => s.end(1001, "server shutting down"))]);
    for (const wss of Object.values(this.sockets)) wss.close();
  }

  /** Requests in flight (sessions not counted): what a shutdown that ran out of grace reports. */
  get inFlight(): number {
    return this.requests;
  }

  // identify: the request id, the route, the error family its refusals take.
  private identify(req: IncomingMessage, upgrade: boolean): Exchange {
    const pathname = requestTarget(req)?.pathname ?? "";
    const samePath = this.routes.filter((r) => r.path === pathname);
    const route = samePath.find((r) => r.method === req.method);
    return {
      requestId: randomUUID(),
      startedAt: performance.now(),
      method: req.method ?? "",
      route,
      // A refused upgrade to an unknown path answers as the live route (Deepgram's) would.
      family: route?.family ?? samePath[0]?.family ?? (upgrade ? "deepgram" : "openai"),
      label: route?.path ?? (samePath.length > 0 ? pathname : "unmatched"),
      admitted: false,
      usage: { model: "", features: route?.feature ? [route.feature] : [], audioSeconds: 0, characters: 0 },
      releases: [],
    };
  }

  private found(ex: Exchange, req: IncomingMessage): Route {
    const target = requestTarget(req);
    if (!target) throw new HttpError(400, "invalid_request_target", "the request-target is not a valid path");
    if (ex.route) return ex.route;
    const allowed = this.routes.filter((r) => r.path === target.pathname).map((r) => r.method);
    if (allowed.length > 0) throw new HttpError(405, "method_not_allowed", `${req.method} is not allowed on ${target.pathname}`, { allow: allowed.join(", ") });
    throw new HttpError(404, "not_found", `no route ${req.method} ${target.pathname.slice(0, 128)}`);
  }

  private socketPaths(): string[] {
    return this.routes.filter((r) => r.kind === "socket").map((r) => r.path);
  }

  // authenticate: the key, from the Authorization header (or, for sockets, the subprotocol browsers must use).
  private authenticate(ex: Exchange, req: IncomingMessage, upgrade: boolean): void {
    if (ex.route?.auth) ex.caller = authenticate(this.keys, req, upgrade);
  }

  // admit: speech routes are refused while the body is still unread: a server shutting down, a license that does not
  // allow the feature, a team without its scope or over its limits must cost the client no upload and us no decode.
  private admit(ex: Exchange): void {
    const feature = ex.route?.feature;
    if (!feature) return;
    if (!this.accepting) throw new HttpError(503, "shutting_down", "the server is shutting down", { "retry-after": "1" });
    this.deps.license.check(feature);
    ex.releases.push(ex.caller!.team.admit(feature));
  }

  // admit, the parameters the query carries (a body's are read in handle).
  private queryParams(schema: ZodType, req: IncomingMessage): unknown {
    return requireParams(schema, paramsObject(schema, requestTarget(req)!.searchParams));
  }

  // admit, the capacity an HTTP request needs: a place in its engine queue, and room for its body.
  private capacity(ex: Exchange, route: HttpRoute, req: IncomingMessage): void {
    if (!route.feature) return;
    if (route.work) this.deps.speech.admit(route.work);
    ex.releases.push(this.bodies.admit(req));
    ex.admitted = true;
    this.deps.metrics.inflight.inc();
  }

  // handle (sockets): the upgraded socket's session; admitted from here, accounted for when it ends.
  private startSession(ex: Exchange, route: SocketRoute, ws: WebSocket, params: unknown, reserved: unknown): void {
    ex.admitted = true;
    this.deps.metrics.inflight.inc();
    if (route.feature === "stt-live") this.deps.metrics.liveSessions.inc();
    const session = route.start({ ws, requestId: ex.requestId, deps: this.deps, caller: ex.caller!, settle: (usage) => this.settle(ex, usage) }, params, reserved);
    this.open.add(session);
    void session.done.then(() => this.open.delete(session));
  }

  // handle (HTTP): body parameters read and checked, then the handler, within the request timeout. The engine job
  // cannot be cancelled: after a timeout its late result is dropped.
  private async handle(route: HttpRoute, ctx: RequestContext, query: unknown): Promise<Reply | void> {
    let timer: NodeJS.Timeout | undefined;
    const work = (async () => route.handle(ctx, query, await this.bodyParams(route, ctx)))();
    work.catch(() => undefined);
    try {
      return await Promise.race([
        work,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new HttpError(504, "timeout", `the request took longer than ${this.deps.config.REQUEST_TIMEOUT_MS} ms`)), this.deps.config.REQUEST_TIMEOUT_MS);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async bodyParams(route: HttpRoute, ctx: RequestContext): Promise<unknown> {
    const body = route.body;
    if (!body) return undefined;
    if (body.type === "json") {
      if (mediaType(ctx.req) !== "application/json") throw new HttpError(400, "invalid_content_type", "send a JSON body (application/json)");
      return requireParams(body.schema, await readJson(ctx.req, ctx.config.MAX_BODY_BYTES));
    }
    const form = await readMultipart(ctx.req, ctx.config.MAX_BODY_BYTES);
    return requireParams(body.schema, { ...paramsObject(body.schema, form.fields), ...(form.file ? { file: form.file } : {}) });
  }

  // account: everything an exchange is counted for, from its outcome, once; then what it held is given back.
  private account(ex: Exchange, outcome: Outcome): void {
    const { metrics, license, speech } = this.deps;
    const { status, error } = outcome;
    const seconds = (performance.now() - ex.startedAt) / 1000;
    const team = ex.caller?.team.name;
    const feature = ex.route?.feature;
    try {
      if (error && error.status !== 500) {
        metrics.rejected.inc({ reason: error.code });
        if (team) metrics.teams.rejected.inc({ team, reason: error.code });
      }
      metrics.requestDuration.observe({ route: ex.label, method: ex.method, status: String(status) }, seconds);
      const u = ex.usage;
      if (team) recordTeamRequest(metrics.teams, team, ex.label, status, ex.admitted && feature ? { feature, audioSeconds: u.audioSeconds, characters: u.characters } : undefined);
      if (!ex.admitted || !feature) return;
      metrics.inflight.dec();
      metrics.audioSeconds.inc({ feature }, u.audioSeconds);
      if (u.characters > 0) metrics.characters.inc(u.characters);
      if (feature === "stt-live") {
        metrics.liveSessions.dec();
        if (team) metrics.teams.liveSessionSeconds.inc({ team }, seconds);
      }
      // Written ahead (USAGE_WAL_DIR) before the answer's last bytes: a client that saw its answer complete is never
      // missing from usage, whenever the process dies.
      license.record({
        id: ex.requestId,
        model: u.model || (feature === "tts" ? speech.tts.id : speech.stt.id),
        features: u.features,
        status_code: status,
        audio_seconds: u.audioSeconds,
        characters: u.characters,
      });
    } finally {
      for (const release of ex.releases.splice(0)) release();
    }
  }

  /** A session ended: its usage, then the account. */
  private settle(ex: Exchange, usage: Usage): void {
    ex.usage = usage;
    this.account(ex, { status: 101 });
  }

  /** Write the answer: the reply, the error (or a cut connection when a streamed answer failed), or the end of a streamed one. */
  private respond(ex: Exchange, res: ServerResponse, reply: Reply | void, error: HttpError | undefined): void {
    if (error) {
      if (!res.headersSent) sendJson(res, error.status, errorBody(error, ex.family, ex.requestId), error.headers);
      else res.destroy();
      return;
    }
    if (reply) {
      res.writeHead(reply.status, { ...reply.headers, "content-length": Buffer.byteLength(reply.body) });
      res.end(reply.body);
      return;
    }
    if (!res.writableEnded && !res.destroyed) res.end();
  }
}
