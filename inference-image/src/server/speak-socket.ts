/**
 * Deepgram-compatible streaming speech: `GET /v1/speak` upgraded to a WebSocket, for text that arrives
 * token by token from an LLM. In: JSON `Speak` {text}, `Flush`, `Clear`, `Close`. Out: `Metadata` at
 * open, binary audio (raw samples in the requested encoding), `Flushed` once everything before a Flush
 * has been sent, `Cleared` at once on Clear, `Warning` for input that was ignored.
 * Synthesis starts at each sentence end and at Flush; Clear drops the unspoken text and stops the
 * sentence being synthesized after its current piece, sending none of its audio (barge-in).
 */
import { WebSocket } from "ws";
import { createEncoder } from "../audio/codecs/encoders";
import type { StreamEncoder } from "../audio/codecs/stream-encoder";
import type { ModelInfo } from "../engines/types";
import { socketSampleRate, type SpeakSocketQuery, speakSocketMessage, speakSocketQuery } from "../params/deepgram-speak";
import { type SocketConnection, socketRoute } from "./context";
import { speakModel } from "./deepgram";
import { deepgramModelInfo, modelUuid } from "./formats";
import { parseParams } from "./params";
import { SocketSession } from "./sockets";
import { RateConverter } from "./synthesis";

/** The end of the last whole sentence in `text` (a . ! or ? run, closing quotes, then whitespace), or -1. */
function lastSentenceEnd(text: string): number {
  let end = -1;
  for (const m of text.matchAll(/[.!?]+["')\]]*\s+/g)) end = m.index + m[0].length;
  return end;
}

interface SpeakStart {
  model: ModelInfo;
  voice?: string;
}

export const speakSocketRoute = socketRoute<SpeakSocketQuery, SpeakStart>({
  kind: "socket",
  method: "GET",
  path: "/v1/speak",
  family: "deepgram",
  auth: true,
  feature: "tts",
  query: speakSocketQuery,
  doc: {
    summary: "Streaming speech (Deepgram) over a WebSocket",
    description:
      "Upgrade to a WebSocket and send the messages below (Speak token by token is fine). Receives Metadata at open, binary audio " +
      "(raw samples), Flushed {sequence_id} once the audio before a Flush is sent, Cleared {sequence_id} at once on Clear, and " +
      "Warning {code, description} for ignored input. Synthesis starts at each sentence end and at Flush.",
    ok: { description: "Switching protocols" },
    errors: [400],
    messages: speakSocketMessage,
  },
  reserve: ({ speech }, query) => speakModel(speech, query.model),
  release: () => undefined,
  start: (conn, query, { model, voice }) => new SpeakSession(conn, query, model, voice),
});

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

  private readonly sampleRate: number;

  constructor(
    conn: SocketConnection,
    private readonly query: SpeakSocketQuery,
    private readonly model: ModelInfo,
    private readonly voice: string | undefined,
  ) {
    super(conn);
    this.sampleRate = socketSampleRate(query);
    this.sendJson({ type: "Metadata", request_id: this.requestId, model_name: model.id, model_version: deepgramModelInfo(model).version, model_uuid: modelUuid(model) });
    this.listen();
  }

  protected onMessage(data: Buffer, isBinary: boolean): void {
    if (isBinary) return this.warn("INVALID_MESSAGE", "binary frames are not accepted; send JSON Speak, Flush, Clear or Close");
    let json: unknown;
    try {
      json = JSON.parse(data.toString("utf8"));
    } catch {
      return this.warn("INVALID_MESSAGE", "text frames must be JSON messages: Speak, Flush, Clear or Close");
    }
    const msg = parseParams(speakSocketMessage, json);
    if (!msg.ok) return this.warn("INVALID_MESSAGE", msg.issue.message);
    switch (msg.value.type) {
      case "Speak":
        return this.speak(msg.value.text);
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
    }
  }

  private speak(text: string): void {
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
    const converter = new RateConverter(engineRate, this.sampleRate);
    const submitted = performance.now();
    let first = true;
    // The speech routes' own encoder: raw samples, no container, as Deepgram's socket sends them.
    const encoder = await createEncoder({ encoding: this.query.encoding, container: "none", sampleRate: this.sampleRate });
    try {
      for await (const chunk of speech.synthesize(text, { voice: this.voice, speed: this.query.speed })) {
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
    return { model: this.model.id, features: ["tts", "speak-websocket", `encoding:${this.query.encoding}`], audioSeconds: this.audioSeconds, characters: this.characters };
  }

  protected override release(): void {
    // Anything still synthesizing stops after its current piece.
    this.generation++;
  }
}
