/**
 * Deepgram-compatible streaming speech: `GET /v1/speak` upgraded to a WebSocket, for text that arrives
 * token by token from an LLM. In: JSON `Speak` {text}, `Flush`, `Clear`, `Close`. Out: `Metadata` at
 * open, binary audio (raw samples in the requested encoding), `Flushed` once everything before a Flush
 * has been sent, `Cleared` at once on Clear, `Warning` for input that was ignored.
 * Synthesis starts at each sentence end and at Flush; Clear drops the unspoken text and stops the
 * sentence being synthesized after its current piece, sending none of its audio (barge-in).
 */
import { WebSocket } from "ws";
import { HttpError } from "../shared/http";
import { parseRate } from "./audio";
import type { ApiKeys } from "./auth";
import { createEncoder, type StreamEncoder } from "./codecs";
import type { Deps } from "./context";
import { refuseCallback, speakModel } from "./deepgram";
import { deepgramModelInfo, modelUuid } from "./formats";
import { type OpenSocket, type SocketConnection, SocketRoute, SocketSession } from "./sockets";
import { checkSpeed, RateConverter } from "./synthesis";
import type { ModelInfo } from "../engines/types";

/** Deepgram's speak WebSocket encodings, with Deepgram's default rate for each. */
const SOCKET_ENCODINGS = { linear16: 24000, mulaw: 8000, alaw: 8000 };
type SocketEncoding = keyof typeof SOCKET_ENCODINGS;

interface SpeakParams {
  model: ModelInfo;
  voice?: string;
  speed: number;
  sampleRate: number;
  encoding: SocketEncoding;
}

/** The end of the last whole sentence in `text` (a . ! or ? run, closing quotes, then whitespace), or -1. */
function lastSentenceEnd(text: string): number {
  let end = -1;
  for (const m of text.matchAll(/[.!?]+["')\]]*\s+/g)) end = m.index + m[0].length;
  return end;
}

export class SpeakSocketRoute extends SocketRoute<SpeakParams> {
  constructor(deps: Deps, keys: ApiKeys) {
    super(deps, keys, "/v1/speak", "deepgram", "tts");
  }

  protected prepare(q: URLSearchParams): SpeakParams {
    refuseCallback(q);
    const { model, voice } = speakModel(this.deps, q);
    const encoding = (q.get("encoding") ?? "linear16") as SocketEncoding;
    if (!Object.hasOwn(SOCKET_ENCODINGS, encoding)) {
      throw new HttpError(400, "unsupported_encoding", `encoding "${encoding.slice(0, 32)}" is not supported on the speak WebSocket; use ${Object.keys(SOCKET_ENCODINGS).join(", ")}`);
    }
    const container = q.get("container");
    if (container !== null && container !== "none") throw new HttpError(400, "invalid_parameter", "the speak WebSocket sends raw audio: container must be none");
    return {
      model,
      voice,
      speed: checkSpeed(q.get("speed") ?? undefined, 0.5, 2),
      sampleRate: q.has("sample_rate") ? parseRate(q.get("sample_rate") ?? undefined) : SOCKET_ENCODINGS[encoding],
      encoding,
    };
  }

  protected start(params: SpeakParams, conn: SocketConnection): OpenSocket {
    return new SpeakSession(conn, params);
  }
}

type Item = { kind: "text"; text: string } | { kind: "flush"; sequence: number } | { kind: "close" };

class SpeakSession extends SocketSession {
  private pending = "";
  private readonly queue: Item[] = [];
  /** Bumped by Clear: synthesis started before it sends nothing more. */
  private generation = 0;
  private pumping = false;
  private flushes = 0;
  private clears = 0;
  private characters = 0;
  /** Characters queued for synthesis and not yet spoken: with the pending text, bounded by MAX_TEXT_CHARS. */
  private queuedChars = 0;
  private audioSeconds = 0;

  constructor(
    conn: SocketConnection,
    private readonly params: SpeakParams,
  ) {
    super(conn, "tts");
    this.sendJson({
      type: "Metadata",
      request_id: this.requestId,
      model_name: params.model.id,
      model_version: deepgramModelInfo(params.model).version,
      model_uuid: modelUuid(params.model),
    });
    this.listen();
  }

  protected onMessage(data: Buffer, isBinary: boolean): void {
    if (isBinary) return this.warn("INVALID_MESSAGE", "binary frames are not accepted; send JSON Speak, Flush, Clear or Close");
    let msg: { type?: unknown; text?: unknown };
    try {
      msg = JSON.parse(data.toString("utf8"));
    } catch {
      return this.warn("INVALID_MESSAGE", "text frames must be JSON messages: Speak, Flush, Clear or Close");
    }
    switch (typeof msg === "object" && msg !== null ? msg.type : undefined) {
      case "Speak":
        return this.speak(msg.text);
      case "Flush":
        this.takePending(this.pending.length);
        this.queue.push({ kind: "flush", sequence: this.flushes++ });
        return this.pump();
      case "Clear":
        this.pending = "";
        this.queue.length = 0;
        this.queuedChars = 0;
        this.generation++;
        return this.sendJson({ type: "Cleared", sequence_id: this.clears++ });
      case "Close":
        this.takePending(this.pending.length);
        this.queue.push({ kind: "close" });
        return this.pump();
      default:
        return this.warn("INVALID_MESSAGE", "unknown message type; expected Speak, Flush, Clear or Close");
    }
  }

  private speak(text: unknown): void {
    if (typeof text !== "string") return this.warn("INVALID_MESSAGE", "Speak needs a text string");
    const limit = this.deps.config.MAX_TEXT_CHARS;
    if (this.pending.length + this.queuedChars + text.length > limit) {
      return this.warn("TEXT_TOO_LONG", `the text not yet spoken would pass ${limit} characters; this Speak was ignored`);
    }
    this.pending += text;
    this.characters += text.length;
    this.takePending(lastSentenceEnd(this.pending));
  }

  /** Queue the first `end` characters of the pending text for synthesis. */
  private takePending(end: number): void {
    if (end <= 0) return;
    const text = this.pending.slice(0, end);
    this.pending = this.pending.slice(end);
    if (/[\p{L}\p{N}]/u.test(text)) {
      this.queue.push({ kind: "text", text });
      this.queuedChars += text.length;
    }
    this.pump();
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    void (async () => {
      try {
        for (let item = this.queue.shift(); item && !this.closed; item = this.queue.shift()) {
          if (item.kind === "flush") this.sendJson({ type: "Flushed", sequence_id: item.sequence });
          else if (item.kind === "close") return void (await this.end(1000, ""));
          else {
            await this.synthesize(item.text);
            this.queuedChars = Math.max(0, this.queuedChars - item.text.length);
          }
        }
      } finally {
        this.pumping = false;
      }
    })();
  }

  private async synthesize(text: string): Promise<void> {
    const { speech, metrics } = this.deps;
    const generation = this.generation;
    const engineRate = speech.tts.sampleRate;
    const converter = new RateConverter(engineRate, this.params.sampleRate);
    const submitted = performance.now();
    let first = true;
    // The speech routes' own encoder: raw samples, no container, as Deepgram's socket sends them.
    const encoder = await createEncoder({ encoding: this.params.encoding, container: "none", sampleRate: this.params.sampleRate });
    try {
      for await (const chunk of speech.synthesize(text, { voice: this.params.voice, speed: this.params.speed })) {
        if (generation !== this.generation || this.closed) break;
        this.audioSeconds += chunk.length / engineRate;
        await this.sendAudio(encoder, converter.convert(chunk));
        if (first) metrics.ttsFirstByte.observe((performance.now() - submitted) / 1000);
        first = false;
      }
      const tail = generation === this.generation ? converter.flush() : undefined;
      if (tail) await this.sendAudio(encoder, tail);
    } catch (err) {
      this.warn("SYNTHESIS_FAILED", `a sentence was not spoken: ${(err as Error).message}`);
    } finally {
      encoder.close();
    }
  }

  private async sendAudio(encoder: StreamEncoder, pcm: Int16Array): Promise<void> {
    if (pcm.length === 0 || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(await encoder.push(pcm));
  }

  private warn(code: string, description: string): void {
    this.sendJson({ type: "Warning", code, description });
  }

  protected usage() {
    return { model: this.params.model.id, features: ["tts", "speak-websocket", `encoding:${this.params.encoding}`], audioSeconds: this.audioSeconds, characters: this.characters };
  }

  protected override release(): void {
    // Anything still synthesizing stops after its current piece.
    this.generation++;
  }
}
