/**
 * What the WebSocket routes (live transcription, streaming speech, realtime) share: the upgrade with every refusal as a
 * plain HTTP answer before it (auth, license, shutdown, bad parameters), and shutdown of open sockets.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import { HttpError } from "../shared/http";
import type { Feature } from "../shared/license-protocol";
import { type ApiKeys, authenticate, type Caller } from "./auth";
import type { Deps } from "./context";
import { type ErrorFamily, errorBody, requestIdHeader, toHttpError } from "./errors";
import { rawJsonResponse } from "./http";
import { recordTeamRequest } from "./metrics";

/** Largest single frame; Deepgram clients send ~20-250 ms of audio per frame. */
const MAX_FRAME_BYTES = 4 * 1024 * 1024;

/** A message's bytes: with ws's default binaryType they are one Buffer already, used as it is (not copied). */
function messageBuffer(data: RawData): Buffer {
  return Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

/** Each upgrade's request id, for its 101 answer's header (ws writes that answer itself). */
const upgradeIds = new WeakMap<IncomingMessage, string>();

/** Upgrade `req`, its 101 answer carrying the request id as every other answer does (the session's usage record has it too). */
function acceptUpgrade(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer, requestId: string, onOpen: (ws: WebSocket) => void): void {
  upgradeIds.set(req, requestId);
  wss.handleUpgrade(req, socket, head, onOpen);
}

/** The WebSocket server every socket route upgrades with (the routes are dispatched by path in app.ts). */
function socketServer(family: ErrorFamily): WebSocketServer {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    // Browsers (and the Deepgram SDK there) authenticate with `Sec-WebSocket-Protocol: token, <key>`: echo the scheme.
    handleProtocols: (protocols) => {
      for (const p of protocols) if (p.toLowerCase() === "token" || p.toLowerCase() === "bearer") return p;
      return false;
    },
  });
  wss.on("headers", (headers, req) => {
    const id = upgradeIds.get(req);
    if (id) headers.push(`${requestIdHeader(family)}: ${id}`);
  });
  return wss;
}

function rejectUpgrade(socket: Duplex, err: HttpError, requestId: string, family: ErrorFamily): void {
  if (socket.destroyed) return;
  socket.end(rawJsonResponse(err.status, errorBody(err, family, requestId), { [requestIdHeader(family)]: requestId, ...err.headers }));
}

export interface OpenSocket {
  readonly done: Promise<void>;
  readonly caller: Caller;
  /** Finish what is in progress and close with `code` (shutdown: 1001). */
  end(code: number, reason: string): Promise<void>;
  /** Its key was revoked (SocketSession's default: end(1008, "KEY_REVOKED")). */
  revoke(): void;
}

/** An accepted socket, with what its session needs to serve and account for it. */
export interface SocketConnection {
  ws: WebSocket;
  requestId: string;
  deps: Deps;
  route: string;
  caller: Caller;
  /** Gives the caller's team slot back; the session calls it once, when it ends. */
  releaseTeam: () => void;
}

export abstract class SocketRoute<P> {
  private readonly wss: WebSocketServer;
  private readonly open = new Set<OpenSocket>();
  private accepting = true;

  constructor(
    protected readonly deps: Deps,
    private readonly keys: ApiKeys,
    readonly route: string,
    private readonly family: ErrorFamily,
    private readonly feature: Feature,
  ) {
    this.wss = socketServer(family);
    // A key taken out of the keys file ends its open sockets too (1008), not only its next requests.
    keys.onRevoke((revoked) => {
      for (const s of this.open) {
        if (revoked.has(s.caller.digest)) s.revoke();
      }
    });
  }

  /** Validate the query (throw HttpError to refuse) and reserve what the socket needs. */
  protected abstract prepare(query: URLSearchParams, req: IncomingMessage): Promise<P> | P;
  protected abstract start(params: P, conn: SocketConnection): OpenSocket;
  /** Undo prepare() when the client left before the upgrade completed. */
  protected release(_params: P): Promise<void> | void {}

  /** `url`: the request target, as app.ts parsed it (it refuses one that does not parse, and sends unknown paths here too). */
  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<void> {
    const requestId = randomUUID();
    let caller: Caller | undefined;
    let releaseTeam: (() => void) | undefined;
    try {
      if (url.pathname !== this.route) throw new HttpError(404, "not_found", `no WebSocket route at ${url.pathname.slice(0, 64)}; use ${this.route}`);
      if (!this.accepting) throw new HttpError(503, "shutting_down", "the server is shutting down", { "retry-after": "1" });
      const who = (caller = authenticate(this.keys, req, true));
      this.deps.license.check(this.feature);
      // The socket counts against its team's limits from here until it closes.
      const release = (releaseTeam = who.team.admit(this.feature));
      const params = await this.prepare(url.searchParams, req);
      let started = false;
      if (!socket.destroyed) {
        acceptUpgrade(this.wss, req, socket, head, requestId, (ws) => {
          started = true;
          const s = this.start(params, { ws, requestId, deps: this.deps, route: this.route, caller: who, releaseTeam: release });
          this.open.add(s);
          void s.done.then(() => this.open.delete(s));
        });
      }
      // The client left, or ws refused a malformed handshake itself (closing the socket) and never called back.
      if (!started) {
        release();
        await this.release(params);
      }
    } catch (err) {
      releaseTeam?.();
      const e = toHttpError(err, this.deps.logger, requestId);
      this.deps.metrics.rejected.inc({ reason: e.code });
      if (caller) {
        this.deps.metrics.teams.rejected.inc({ team: caller.team.name, reason: e.code });
        recordTeamRequest(this.deps.metrics.teams, caller.team.name, this.route, e.status);
      }
      this.deps.metrics.requestDuration.observe({ route: this.route, method: "GET", status: String(e.status) }, 0);
      rejectUpgrade(socket, e, requestId, this.family);
    }
  }

  async shutdown(): Promise<void> {
    this.accepting = false;
    await Promise.all([...this.open].map((s) => s.end(1001, "server shutting down")));
    this.wss.close();
  }
}

/** What a session's usage record says about it. */
interface SessionUsage {
  model: string;
  features: string[];
  audioSeconds: number;
  characters: number;
}

/**
 * What every socket session has: its connection, `done`, its listeners, one cleanup that records usage and gives
 * the session's resources back, and one usage record when it ends.
 */
export abstract class SocketSession implements OpenSocket {
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  protected closed = false;
  protected readonly ws: WebSocket;
  readonly requestId: string;
  protected readonly deps: Deps;
  readonly caller: Caller;
  private readonly route: string;
  private readonly releaseTeam: () => void;
  private readonly startedAt = performance.now();

  constructor(
    conn: SocketConnection,
    /** stt-live sessions also count in the live-sessions gauge. */
    private readonly feature: "stt-live" | "tts",
  ) {
    ({ ws: this.ws, requestId: this.requestId, deps: this.deps, route: this.route, caller: this.caller, releaseTeam: this.releaseTeam } = conn);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.deps.metrics.inflight.inc();
    if (feature === "stt-live") this.deps.metrics.liveSessions.inc();
  }

  /** Close with `code` and clean up; a session with results still to flush (live) finishes them first. */
  end(code: number, reason: string): Promise<void> {
    return this.closeWith(code, reason);
  }

  /** What the usage record says about this session, read when it ends. */
  protected abstract usage(): SessionUsage;
  protected abstract onMessage(data: Buffer, isBinary: boolean): void;

  /** Listen to the socket; the subclass calls this once its own state is set. */
  protected listen(): void {
    this.ws.on("message", (data, isBinary) => this.onMessage(messageBuffer(data), isBinary));
    this.ws.on("close", () => void this.cleanup());
    this.ws.on("error", () => void this.cleanup());
  }

  /** The session's key was revoked. */
  revoke(): void {
    void this.end(1008, "KEY_REVOKED");
  }

  /** Give what the session holds back, once the socket is gone (called once, by cleanup). */
  protected release(): Promise<void> | void {}

  protected sendJson(msg: unknown): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  /** Close the socket with `code` (if it is still open) and clean up. */
  protected async closeWith(code: number, reason: string): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(code, reason);
    await this.cleanup();
  }

  /** The first call records the usage, drops the connection and releases; every call waits for `done`. */
  protected async cleanup(): Promise<void> {
    if (!this.finish()) return this.done;
    try {
      await this.release();
    } finally {
      this.resolveDone();
    }
  }

  /**
   * The first call records the usage (gauges, counters, its duration, the team's slot back, one usage record) and
   * drops the connection; false when the session had ended already.
   */
  private finish(): boolean {
    if (this.closed) return false;
    this.closed = true;
    const { metrics, license } = this.deps;
    const { route, feature } = this;
    const u = this.usage();
    metrics.inflight.dec();
    if (feature === "stt-live") metrics.liveSessions.dec();
    metrics.audioSeconds.inc({ feature }, u.audioSeconds);
    if (u.characters > 0) metrics.characters.inc(u.characters);
    const seconds = (performance.now() - this.startedAt) / 1000;
    this.releaseTeam();
    const team = this.caller.team.name;
    recordTeamRequest(metrics.teams, team, route, 101, { feature, audioSeconds: u.audioSeconds, characters: u.characters });
    if (feature === "stt-live") metrics.teams.liveSessionSeconds.inc({ team }, seconds);
    metrics.requestDuration.observe({ route, method: "GET", status: "101" }, seconds);
    license.record({ id: this.requestId, model: u.model, features: u.features, status_code: 101, audio_seconds: u.audioSeconds, characters: u.characters });
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    return true;
  }
}

/**
 * What the live (Deepgram) and realtime (OpenAI) transcription sessions share: engine work run one piece at a
 * time in arrival order, and an idle timeout.
 */
export abstract class TranscriptionSession extends SocketSession {
  protected chain: Promise<void> = Promise.resolve();
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(conn: SocketConnection) {
    super(conn, "stt-live");
  }

  /** Listen to the socket and start the idle timeout (created once; each message refreshes it). */
  protected override listen(): void {
    super.listen();
    this.idleTimer = setTimeout(() => void this.idle(), this.deps.config.LIVE_IDLE_TIMEOUT_MS);
  }

  /** No message within LIVE_IDLE_TIMEOUT_MS. */
  protected abstract idle(): Promise<void>;
  /** Queued work threw: tell the client, and close unless the session can go on. */
  protected abstract failed(err: unknown): Promise<void>;

  /** Any message from the client restarts the idle timeout, unless it was stopped. */
  protected touch(): void {
    this.idleTimer?.refresh();
  }

  /** For good: a later touch() does not start it again. */
  protected stopIdleTimer(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  /** Engine calls run one at a time, in arrival order: the engine stream (and a decoder) keep state. */
  protected enqueue(work: () => Promise<void>): void {
    this.chain = this.chain.then(async () => {
      if (this.closed) return;
      try {
        await work();
      } catch (err) {
        await this.failed(err);
      }
    });
  }

  protected override cleanup(): Promise<void> {
    this.stopIdleTimer();
    return super.cleanup();
  }
}
