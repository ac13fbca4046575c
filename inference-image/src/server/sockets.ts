/**
 * WebSocket plumbing the pipeline upgrades with (one ws server per error family, the request id on the 101 answer,
 * refusals as plain HTTP answers), and what every socket session shares.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import { AudioError, AudioTooLongError } from "../audio/errors";
import type { RawAudio } from "../audio/pcm";
import { StreamingInput, UnrecognisedStreamError } from "../audio/stream-input";
import { QueueFullError, type StreamEvent, type SttStreamSession } from "../engines/types";
import type { HttpError } from "../shared/http";
import type { Caller } from "./auth";
import type { Deps, OpenSocket, SocketConnection, Usage } from "./context";
import { type ErrorFamily, errorBody, requestIdHeader } from "./errors";
import { rawJsonResponse } from "./http";
import { TurnLatency } from "./turn-latency";

/** Largest single frame; Deepgram clients send ~20-250 ms of audio per frame. */
const MAX_FRAME_BYTES = 4 * 1024 * 1024;

/** A message's bytes: with ws's default binaryType they are one Buffer already, used as it is (not copied). */
function messageBuffer(data: RawData): Buffer {
  return Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

/** Each upgrade's request id, for its 101 answer's header (ws writes that answer itself). */
const upgradeIds = new WeakMap<IncomingMessage, string>();

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

/** The ws servers upgrades go through, by the family whose request-id header their 101 answers carry. */
export const socketServers = (): Record<ErrorFamily, WebSocketServer> => ({ openai: socketServer("openai"), deepgram: socketServer("deepgram") });

/**
 * Upgrade `req`, its 101 answer carrying the request id as every other answer does. True when `onOpen` ran (ws
 * completes a valid handshake at once); false when ws refused the handshake itself and closed the socket.
 */
export function acceptUpgrade(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer, requestId: string, onOpen: (ws: WebSocket) => void): boolean {
  let started = false;
  upgradeIds.set(req, requestId);
  wss.handleUpgrade(req, socket, head, (ws) => {
    started = true;
    onOpen(ws);
  });
  return started;
}

export function rejectUpgrade(socket: Duplex, err: HttpError, requestId: string, family: ErrorFamily): void {
  if (socket.destroyed) return;
  socket.end(rawJsonResponse(err.status, errorBody(err, family, requestId), { [requestIdHeader(family)]: requestId, ...err.headers }));
}

/**
 * What every socket session has: its connection, `done`, its listeners, and one end: its usage settled with the
 * pipeline (accounting and the usage record) before its close frame, then what it holds given back.
 */
export abstract class SocketSession implements OpenSocket {
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  protected closed = false;
  protected readonly ws: WebSocket;
  readonly requestId: string;
  protected readonly deps: Deps;
  readonly caller: Caller;
  private readonly settle: (usage: Usage) => void;

  constructor(conn: SocketConnection) {
    ({ ws: this.ws, requestId: this.requestId, deps: this.deps, caller: this.caller, settle: this.settle } = conn);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** Close with `code` and clean up; a session with results still to flush (live) finishes them first. */
  end(code: number, reason: string): Promise<void> {
    return this.closeWith(code, reason);
  }

  /** What the usage record says about this session, read when it ends. */
  protected abstract usage(): Usage;
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

  /** Settle the session's usage, close the socket with `code` (if it is still open) and clean up. */
  protected async closeWith(code: number, reason: string): Promise<void> {
    this.settleOnce();
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(code, reason);
    await this.cleanup();
  }

  private settled = false;

  /** Account for the session once (the pipeline writes its usage record): before the close frame when it closes itself. */
  protected settleOnce(): void {
    if (this.settled) return;
    this.settled = true;
    this.settle(this.usage());
  }

  /**
   * The first call drops the connection, gives back what the session holds, then settles its usage (if it did not
   * close itself, which settles first): a session counts against its team and in the gauges until its engine stream
   * is free again. Every call waits for `done`.
   */
  protected async cleanup(): Promise<void> {
    if (this.closed) return this.done;
    this.closed = true;
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    try {
      await this.release();
    } finally {
      this.settleOnce();
      this.resolveDone();
    }
  }
}

/**
 * What the live (Deepgram) and realtime (OpenAI) transcription sessions share: engine work run one piece at a
 * time in arrival order, and an idle timeout.
 */
export abstract class TranscriptionSession extends SocketSession {
  protected chain: Promise<void> = Promise.resolve();
  private idleTimer: NodeJS.Timeout | undefined;

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

/** Why a Deepgram socket session closes itself: the close code, and the error code and message it sends first. */
export class SessionClose extends Error {
  constructor(
    readonly wsCode: number,
    readonly errCode: string,
    message: string,
  ) {
    super(message);
  }
}

/** A text frame's JSON; anything else closes the session (1008), saying which messages the route takes. */
export function jsonFrame(text: string, expected: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new SessionClose(1008, "INVALID_MESSAGE", `text frames must be JSON messages: ${expected}`);
  }
}

/** How a Deepgram live session (v1 and Flux) closes when its queued work threw: the audio's fault (1008) or the server's (1011). */
export function streamFailure(err: unknown): SessionClose {
  if (err instanceof SessionClose) return err;
  if (err instanceof UnrecognisedStreamError) return new SessionClose(1008, "DATA-0000", `${err.message}: send encoding=linear16|mulaw|alaw&sample_rate=N for raw audio`);
  if (err instanceof AudioTooLongError) return new SessionClose(1008, "DATA-0001", err.message);
  // A decoder's refusal (corrupt or unsupported audio) names what was wrong.
  if (err instanceof AudioError) return new SessionClose(1008, "DATA-0000", err.message);
  return new SessionClose(1011, "NET-0000", err instanceof QueueFullError ? "server busy" : "transcription failed");
}

/**
 * What Deepgram's live sessions share (v1 listen and Flux): decoded input fed to an engine stream, closing with an
 * Error message on a failure or a revoked key, and the input and engine stream given back at the end.
 */
export abstract class DeepgramStreamSession extends TranscriptionSession {
  protected ending = false;
  /** The audio as it arrives, decoded: raw PCM as the query declared it, else a container known by its bytes. */
  protected readonly input: StreamingInput;
  protected abstract readonly session: SttStreamSession;
  /** What the logs call the session ("live", "Flux"). */
  protected abstract readonly name: string;
  /** When each piece of audio arrived, for the per-turn latency metrics. */
  protected abstract readonly latency: TurnLatency;

  constructor(conn: SocketConnection, raw: RawAudio | undefined) {
    super(conn);
    this.input = new StreamingInput({ raw, outRate: this.deps.speech.stt.sampleRate, maxSeconds: this.deps.config.MAX_AUDIO_SECONDS });
  }

  /** Decoded audio that arrived at `arrivedMs`: timed, then fed to the engine stream. */
  protected async decoded(samples: Float32Array, arrivedMs: number): Promise<StreamEvent[]> {
    if (samples.length === 0) return [];
    this.latency.arrived(samples.length / this.deps.speech.stt.sampleRate, arrivedMs);
    return this.session.push(samples);
  }

  protected turnLatency(route: string): TurnLatency {
    return new TurnLatency(this.deps.metrics.turnLatency, { route, team: this.caller.team.name });
  }
  /** The Error message this protocol sends before a close it causes. */
  protected abstract errorMessage(err: SessionClose): Record<string, unknown>;

  /** A binary frame: audio. */
  protected abstract onAudio(buf: Buffer): void;
  /** A text frame: a control message; a throw closes the session. */
  protected abstract onControl(text: string): void;

  protected onMessage(buf: Buffer, isBinary: boolean): void {
    if (this.ending) return;
    this.touch();
    try {
      if (isBinary) this.onAudio(buf);
      else this.onControl(buf.toString("utf8"));
    } catch (err) {
      void this.fail(err instanceof SessionClose ? err : new SessionClose(1008, "DATA-0000", (err as Error).message));
    }
  }

  protected idle(): Promise<void> {
    return this.fail(new SessionClose(1011, "NET-0001", "no audio or KeepAlive received within the idle timeout"));
  }

  protected failed(err: unknown): Promise<void> {
    return this.fail(streamFailure(err));
  }

  /** The session's key was revoked: close at once (1008, policy violation), without waiting for pending results. */
  override revoke(): void {
    this.deps.logger.info(`closing a ${this.name} session: its API key was revoked`, { team: this.caller.team.name, key_id: this.caller.keyId, request_id: this.requestId });
    void this.fail(new SessionClose(1008, "KEY_REVOKED", "the API key of this session was revoked"));
  }

  protected async fail(err: SessionClose): Promise<void> {
    if (this.closed) return;
    this.ending = true;
    this.sendJson(this.errorMessage(err));
    await this.closeWith(err.wsCode, err.errCode);
  }

  protected override async release(): Promise<void> {
    // After any decode still in the queue: freeing WASM memory under a running decode would trap.
    void this.chain.then(() => this.input.free());
    await this.session.close();
  }
}
