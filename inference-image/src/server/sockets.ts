/**
 * What the streaming-speech and realtime WebSocket routes share: the upgrade with every refusal as a
 * plain HTTP answer before it (auth, license, shutdown, bad parameters), and shutdown of open sockets.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { WebSocket, WebSocketServer } from "ws";
import type { Feature } from "../shared/license-protocol";
import { type ApiKeys, authenticate, type Caller } from "./auth";
import type { Deps } from "./context";
import { type ErrorFamily, HttpError, toHttpError } from "./errors";
import { acceptUpgrade, rejectUpgrade, socketServer } from "./live";
import { recordTeamRequest } from "./metrics";

export interface OpenSocket {
  readonly done: Promise<void>;
  readonly caller: Caller;
  /** Finish what is in progress and close with `code` (shutdown: 1001). */
  end(code: number, reason: string): Promise<void>;
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
    // A key taken out of the keys file ends its open sockets too (1008, as live sessions).
    keys.onRevoke((revoked) => {
      for (const s of this.open) if (revoked.has(s.caller.digest)) void s.end(1008, "KEY_REVOKED");
    });
  }

  /** Validate the query (throw HttpError to refuse) and reserve what the socket needs. */
  protected abstract prepare(query: URLSearchParams, req: IncomingMessage): Promise<P> | P;
  /** `releaseTeam` gives the caller's team slot back; the socket calls it once, when it ends. */
  protected abstract start(ws: WebSocket, params: P, requestId: string, caller: Caller, releaseTeam: () => void): OpenSocket;
  /** Undo prepare() when the client left before the upgrade completed. */
  protected release(_params: P): Promise<void> | void {}

  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const requestId = randomUUID();
    let caller: Caller | undefined;
    let releaseTeam: (() => void) | undefined;
    try {
      if (!this.accepting) throw new HttpError(503, "shutting_down", "the server is shutting down", { "retry-after": "1" });
      const who = (caller = authenticate(this.keys, req, true));
      this.deps.license.check(this.feature);
      // The socket counts against its team's limits from here until it closes.
      const release = (releaseTeam = who.team.admit(this.feature));
      const params = await this.prepare(new URL(req.url ?? "/", "http://localhost").searchParams, req);
      let started = false;
      if (!socket.destroyed) {
        acceptUpgrade(this.wss, req, socket, head, requestId, (ws) => {
          started = true;
          const s = this.start(ws, params, requestId, who, release);
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
