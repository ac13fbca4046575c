/**
 * OpenAI Realtime transcription: `GET /v1/realtime` upgraded to a WebSocket (`?intent=transcription`, as
 * LiveKit's OpenAI STT plugin connects, or `?model=...` then a transcription `session.update`, as the
 * openai SDK's realtime client does). In: `transcription_session.update` (beta shape) or `session.update`
 * (GA shape), `input_audio_buffer.append` (base64 PCM16 at 24 kHz, or G.711 mu-law/A-law at 8 kHz, mono, as the
 * session's input format says), `.commit`, `.clear`. Out: the
 * session created/updated events, `input_audio_buffer.speech_started` / `speech_stopped` / `committed` /
 * `cleared`, `conversation.item.input_audio_transcription.delta` and `.completed`, and `error` events in
 * OpenAI's shape. Server VAD (the default) ends a turn after `silence_duration_ms`; turn_detection null
 * leaves turns to commit.
 */
import { randomUUID } from "node:crypto";
import { AudioTooLongError } from "../audio/errors";
import { StreamingInput } from "../audio/stream-input";
import { EngineInputError, QueueFullError, type StreamEvent, type SttStreamSession } from "../engines/types";
import { LIVE_DEFAULTS } from "../params/deepgram-listen";
import {
  DEFAULT_SILENCE_MS,
  INPUT_FORMATS,
  type InputFormat,
  type RealtimeClientEvent,
  realtimeClientEvent,
  realtimeQuery,
  sessionUpdate,
  type SessionUpdate,
} from "../params/openai-realtime";
import { HttpError } from "../shared/http";
import { type Deps, type SocketConnection, socketRoute } from "./context";
import { resolveModel } from "./models";
import { parseParams } from "./params";
import { TranscriptionSession } from "./sockets";

/** OpenAI refuses to commit less than this. */
const MIN_COMMIT_MS = 100;

type Settings = Required<Omit<SessionUpdate, "language">> & Pick<SessionUpdate, "language">;

interface RealtimeStart {
  /** Connected with intent=transcription: the beta event names (transcription_session.*). */
  beta: boolean;
  session: SttStreamSession;
  settings: Settings;
}

class ClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly param?: string,
  ) {
    super(message);
  }
}

export const realtimeRoute = socketRoute({
  kind: "socket",
  method: "GET",
  path: "/v1/realtime",
  family: "openai",
  auth: true,
  feature: "stt-live",
  query: realtimeQuery,
  doc: {
    summary: "Realtime transcription (OpenAI) over a WebSocket",
    description:
      "Upgrade to a WebSocket (intent=transcription, or model=... then a transcription session.update), then send the client events " +
      "below (audio base64 in the session's input format: PCM16 at 24 kHz, or G.711 mu-law/A-law at 8 kHz). Receives " +
      "session.created/updated (or transcription_session.*), input_audio_buffer.speech_started/speech_stopped/committed/cleared, " +
      "conversation.item.input_audio_transcription.delta and .completed, and error events. Server VAD ends turns after " +
      "silence_duration_ms; turn_detection null leaves turns to commit.",
    ok: { description: "Switching protocols" },
    errors: [400],
    messages: realtimeClientEvent,
  },
  async reserve(deps, query): Promise<RealtimeStart> {
    const settings: Settings = { silenceMs: DEFAULT_SILENCE_MS, model: deps.speech.stt.id, format: "pcm16" };
    return { beta: query.intent === "transcription", settings, session: await openSession(deps, settings) };
  },
  release: ({ session }) => session.close(),
  start: (conn, _query, start) => new RealtimeSession(conn, start),
});

/** The engine stream for these settings: the session's turn detection as Deepgram's live options (the engine's terms). */
function openSession(deps: Deps, s: Settings): Promise<SttStreamSession> {
  return deps.speech.openStream({
    live: { ...LIVE_DEFAULTS, language: s.language, endpointing: s.silenceMs ?? false, vad_events: true },
    sourceRate: INPUT_FORMATS[s.format].rate,
    interimMs: deps.config.LIVE_INTERIM_MS,
  });
}

const eventId = () => `event_${randomUUID().replace(/-/g, "").slice(0, 20)}`;

class RealtimeSession extends TranscriptionSession {
  private session: SttStreamSession;
  private settings: Settings;
  /** The input format's decoding to the engine's rate, replaced when the format changes. */
  private input: StreamingInput;
  /** Seconds of audio that earlier input formats took. */
  private earlierSeconds = 0;
  /** The format of audio appended from now on; `settings` follows it in queue order. */
  private appendFormat: InputFormat;
  private readonly sessionId = `sess_${randomUUID().replace(/-/g, "").slice(0, 20)}`;
  private items = 0;
  private item: string | undefined;
  private previousItem: string | null = null;
  /** Audio appended since the last commit or turn end (ms), for commit's minimum. */
  private bufferedMs = 0;

  constructor(
    conn: SocketConnection,
    private readonly params: RealtimeStart,
  ) {
    super(conn);
    this.session = params.session;
    this.settings = params.settings;
    this.appendFormat = params.settings.format;
    this.input = this.openInput(params.settings.format);
    this.emit({ type: params.beta ? "transcription_session.created" : "session.created", session: this.describe() });
    this.listen();
  }

  private openInput(name: InputFormat): StreamingInput {
    const { format, rate } = INPUT_FORMATS[name];
    const maxSeconds = this.deps.config.MAX_AUDIO_SECONDS - this.earlierSeconds;
    return new StreamingInput({ raw: { format, sampleRate: rate, channels: 1 }, outRate: this.deps.speech.stt.sampleRate, maxSeconds });
  }

  private get audioSeconds(): number {
    return this.earlierSeconds + this.input.seconds;
  }

  protected idle(): Promise<void> {
    return this.end(1000, "idle timeout");
  }

  protected onMessage(data: Buffer, isBinary: boolean): void {
    this.touch();
    let json: { event_id?: unknown } | undefined;
    try {
      if (isBinary) throw new ClientError("invalid_message", "binary frames are not accepted: send JSON events, with audio base64 in input_audio_buffer.append");
      try {
        json = JSON.parse(data.toString("utf8")) as { event_id?: unknown };
      } catch {
        throw new ClientError("invalid_json", "the event is not valid JSON");
      }
      if (typeof json !== "object" || json === null) throw new ClientError("invalid_json", "an event must be a JSON object");
      const event = parseParams(realtimeClientEvent, json);
      if (!event.ok) throw new ClientError("invalid_value", event.issue.message, event.issue.param);
      this.dispatch(event.value);
    } catch (err) {
      this.error(err, json?.event_id);
    }
  }

  private dispatch(event: RealtimeClientEvent): void {
    switch (event.type) {
      case "transcription_session.update":
        return this.update(sessionUpdate(event), "transcription_session.updated");
      case "session.update":
        return this.update(sessionUpdate(event), "session.updated");
      case "input_audio_buffer.append":
        return this.append(event.audio);
      case "input_audio_buffer.commit": {
        if (this.bufferedMs < MIN_COMMIT_MS) {
          throw new ClientError(
            "input_audio_buffer_commit_empty",
            `Error committing input audio buffer: buffer too small. Expected at least ${MIN_COMMIT_MS}ms of audio, but buffer only has ${this.bufferedMs.toFixed(2)}ms of audio.`,
          );
        }
        return this.enqueue(async () => this.handle(await this.session.finalize(), true));
      }
      case "input_audio_buffer.clear":
        return this.enqueue(async () => {
          // The turn so far is dropped, not transcribed.
          await this.session.finalize();
          this.item = undefined;
          this.bufferedMs = 0;
          this.emit({ type: "input_audio_buffer.cleared" });
        });
    }
  }

  private update(next: SessionUpdate, reply: string): void {
    if (next.model !== undefined) resolveModel(this.deps.speech, "stt", next.model);
    const settings = { ...this.settings, ...next };
    // A new input rate may need the other decoder (G.711's 8 kHz gets a narrowband one).
    const reopen =
      settings.silenceMs !== this.settings.silenceMs || settings.language !== this.settings.language || INPUT_FORMATS[settings.format].rate !== INPUT_FORMATS[this.settings.format].rate;
    // Audio appended from here on goes to the fresh stream (the queue runs in order), so it counts from now.
    if (reopen) this.bufferedMs = 0;
    // Audio appended from here on is in the new format (the queue switches the input before decoding it).
    this.appendFormat = settings.format;
    this.enqueue(async () => {
      if (settings.format !== this.settings.format) {
        this.earlierSeconds += this.input.seconds;
        this.input.free();
        this.input = this.openInput(settings.format);
      }
      if (reopen) {
        // Endpointing, language and input rate are fixed per engine stream: start a fresh one for the new settings.
        const fresh = await openSession(this.deps, settings);
        const old = this.session;
        this.session = fresh;
        await old.close();
        this.item = undefined;
      }
      this.settings = settings;
      this.emit({ type: reply, session: this.describe() });
    });
  }

  private append(audio: string): void {
    const bytes = Buffer.from(audio, "base64");
    const { format, rate } = INPUT_FORMATS[this.appendFormat];
    this.bufferedMs += (Math.floor(bytes.length / (format.bits / 8)) / rate) * 1000;
    this.enqueue(async () => {
      const samples = await this.input.push(bytes);
      if (samples.length > 0) this.handle(await this.session.push(samples), false);
    });
  }

  protected async failed(err: unknown): Promise<void> {
    if (err instanceof AudioTooLongError) {
      this.error(new ClientError("audio_limit", `the session passed the limit of ${this.deps.config.MAX_AUDIO_SECONDS} s of audio`));
      return void this.end(1008, "audio limit");
    }
    if (err instanceof QueueFullError) this.error(new ClientError("server_busy", "server busy"));
    else if (err instanceof EngineInputError) this.error(new ClientError("invalid_value", err.message));
    else this.error(err);
    // The client's own mistakes leave the session usable; anything else ends it. Not awaited: this runs in the
    // work queue, and ending waits for that queue to drain (release), so awaiting here would wait on itself.
    if (!(err instanceof ClientError || err instanceof HttpError || err instanceof EngineInputError)) void this.end(1011, "transcription failed");
  }

  private handle(events: StreamEvent[], committed: boolean): void {
    for (const e of events) {
      if (e.kind === "speech-started") {
        this.item = this.newItem();
        this.emit({ type: "input_audio_buffer.speech_started", audio_start_ms: Math.round(e.timestamp * 1000), item_id: this.item });
        continue;
      }
      if (e.kind !== "result" || !e.isFinal) continue;
      const item = this.item ?? this.newItem();
      this.item = undefined;
      const words = e.transcript.words;
      if (!committed) {
        const end = words.length > 0 ? words[words.length - 1].end : e.start + e.transcript.durationS;
        this.emit({ type: "input_audio_buffer.speech_stopped", audio_end_ms: Math.round(end * 1000), item_id: item });
      }
      this.emit({ type: "input_audio_buffer.committed", item_id: item, previous_item_id: this.previousItem });
      this.previousItem = item;
      this.bufferedMs = 0;
      const transcript = e.transcript.text;
      this.emit({ type: "conversation.item.input_audio_transcription.delta", item_id: item, content_index: 0, delta: transcript });
      this.emit({
        type: "conversation.item.input_audio_transcription.completed",
        item_id: item,
        content_index: 0,
        transcript,
        usage: { type: "duration", seconds: Math.round(e.transcript.durationS * 1000) / 1000 },
      });
    }
  }

  private newItem(): string {
    return `item_${this.sessionId.slice(5, 15)}${String(++this.items).padStart(6, "0")}`;
  }

  private describe(): Record<string, unknown> {
    const s = this.settings;
    const turn = s.silenceMs === null ? null : { type: "server_vad", threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: s.silenceMs };
    const transcription = { model: s.model, language: s.language ?? null, prompt: "" };
    if (this.params.beta) {
      return { id: this.sessionId, object: "realtime.transcription_session", input_audio_format: s.format, input_audio_transcription: transcription, turn_detection: turn };
    }
    const { type, rate } = INPUT_FORMATS[s.format];
    return {
      type: "transcription",
      id: this.sessionId,
      object: "realtime.transcription_session",
      audio: { input: { format: s.format === "pcm16" ? { type, rate } : { type }, transcription, turn_detection: turn, noise_reduction: null } },
    };
  }

  private error(err: unknown, clientEventId?: unknown): void {
    const e =
      err instanceof ClientError
        ? { type: "invalid_request_error", code: err.code, message: err.message, param: err.param ?? null }
        : err instanceof HttpError
          ? { type: "invalid_request_error", code: err.code, message: err.message, param: null }
          : { type: "server_error", code: "server_error", message: "the server could not process the event", param: null };
    this.emit({ type: "error", error: { ...e, event_id: typeof clientEventId === "string" ? clientEventId : null } });
  }

  private emit(event: Record<string, unknown>): void {
    this.sendJson({ event_id: eventId(), ...event });
  }

  protected usage() {
    return { model: this.deps.speech.stt.id, features: ["stt-live", "openai-realtime"], audioSeconds: this.audioSeconds, characters: 0 };
  }

  protected override async release(): Promise<void> {
    await this.chain;
    this.input.free();
    await this.session.close();
  }
}
