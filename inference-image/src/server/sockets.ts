/**
 * What the streaming-speech and realtime WebSocket routes share: the upgrade with every refusal as a
 * plain HTTP answer before it (auth, license, shutdown, bad parameters), and shutdown of open sockets.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { WebSocket } from "ws";
import type { Feature } from "../shared/license-protocol";
import { type ApiKeys, authenticate } from "./auth";
import type { Deps } from "./context";
import { type ErrorFamily, HttpError, toHttpError } from "./errors";
import { rejectUpgrade, socketServer } from "./live";

export interface OpenSocket {
  readonly done: Promise<void>;
  /** Finish what is in progress and close with `code` (shutdown: 1001). */
  end(code: number, reason: string): Promise<void>;
}

export abstract class SocketRoute<P> {
  private readonly wss = socketServer();
  private readonly open = new Set<OpenSocket>();
  private accepting = true;

  constructor(
    protected readonly deps: Deps,
    private readonly keys: ApiKeys,
    readonly route: string,
    private readonly family: ErrorFamily,
    private readonly feature: Feature,
  ) {}

  /** Validate the query (throw HttpError to refuse) and reserve what the socket needs. */
  protected abstract prepare(query: URLSearchParams, req: IncomingMessage): Promise<P> | P;
  protected abstract start(ws: WebSocket, params: P, requestId: string): OpenSocket;
  /** Undo prepare() when the client left before the upgrade completed. */
  protected release(_params: P): Promise<void> | void {}

  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const requestId = randomUUID();
    try {
      if (!this.accepting) throw new HttpError(503, "shutting_down", "the server is shutting down", { "retry-after": "1" });
      authenticate(this.keys, req, true);
      this.deps.license.check(this.feature);
      const params = await this.prepare(new URL(req.url ?? "/", "http://localhost").searchParams, req);
      if (socket.destroyed) return void (await this.release(params));
      let started = false;
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        started = true;
        const s = this.start(ws, params, requestId);
        this.open.add(s);
        void s.done.then(() => this.open.delete(s));
      });
      // ws refuses a malformed handshake itself (closing the socket) and never calls back.
      if (!started && socket.destroyed) await this.release(params);
    } catch (err) {
      const e = toHttpError(err, this.deps.logger, requestId);
      this.deps.metrics.rejected.inc({ reason: e.code });
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
