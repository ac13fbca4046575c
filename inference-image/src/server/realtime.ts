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
import { EngineInputError, QueueFullError, type StreamEvent, type SttStreamSession } from "../engines/types";
import { HttpError } from "../shared/http";
import { Resampler, type SampleFormat } from "./audio";
import type { ApiKeys } from "./auth";
import { PcmStreamDecoder } from "./codecs";
import type { Deps } from "./context";
import { resolveModel } from "./models";
import { type OpenSocket, type SocketConnection, SocketRoute, TranscriptionSession } from "./sockets";

/**
 * OpenAI's input formats by their beta names (input_audio_format), with the GA name (audio.input.format.type):
 * 16-bit little-endian PCM at 24 kHz, or G.711 at telephony's 8 kHz; all mono.
 */
const INPUT_FORMATS = {
  pcm16: { type: "audio/pcm", format: { kind: "int", bits: 16 }, rate: 24000 },
  g711_ulaw: { type: "audio/pcmu", format: { kind: "mulaw", bits: 8 }, rate: 8000 },
  g711_alaw: { type: "audio/pcma", format: { kind: "alaw", bits: 8 }, rate: 8000 },
} satisfies Record<string, { type: string; format: SampleFormat; rate: number }>;
type InputFormat = keyof typeof INPUT_FORMATS;
/** OpenAI's server VAD default. */
const DEFAULT_SILENCE_MS = 500;
/** OpenAI refuses to commit less than this. */
const MIN_COMMIT_MS = 100;

interface Settings {
  /** Server VAD silence (ms), or null: turns end only on commit. */
  silenceMs: number | null;
  language?: string;
  model: string;
  format: InputFormat;
}

interface RealtimeParams {
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

export class RealtimeRoute extends SocketRoute<RealtimeParams> {
  constructor(deps: Deps, keys: ApiKeys) {
    super(deps, keys, "/v1/realtime", "openai", "stt-live");
  }

  protected async prepare(q: URLSearchParams): Promise<RealtimeParams> {
    const intent = q.get("intent");
    if (intent !== null && intent !== "transcription") throw new HttpError(400, "invalid_intent", "this server serves realtime transcription only: use intent=transcription");
    const settings: Settings = { silenceMs: DEFAULT_SILENCE_MS, model: this.deps.speech.stt.id, format: "pcm16" };
    // Opened now so a full server answers 429 before the upgrade.
    return { beta: intent === "transcription", settings, session: await openSession(this.deps, settings) };
  }

  protected release(params: RealtimeParams): Promise<void> {
    return params.session.close();
  }

  protected start(params: RealtimeParams, conn: SocketConnection): OpenSocket {
    return new RealtimeSession(conn, params);
  }
}

function openSession(deps: Deps, s: Settings): Promise<SttStreamSession> {
  return deps.speech.openStream({ language: s.language, sourceRate: INPUT_FORMATS[s.format].rate, endpointingMs: s.silenceMs ?? false, interimMs: deps.config.LIVE_INTERIM_MS });
}

const eventId = () => `event_${randomUUID().replace(/-/g, "").slice(0, 20)}`;

class RealtimeSession extends TranscriptionSession {
  private session: SttStreamSession;
  private settings: Settings;
  /** The input format's decoder and its resampler to the engine's rate, replaced when the format changes. */
  private input: { decoder: PcmStreamDecoder; resampler: Resampler };
  private readonly sessionId = `sess_${randomUUID().replace(/-/g, "").slice(0, 20)}`;
  private items = 0;
  private item: string | undefined;
  private previousItem: string | null = null;
  /** Audio appended since the last commit or turn end (ms), for commit's minimum. */
  private bufferedMs = 0;
  private audioSeconds = 0;

  constructor(
    conn: SocketConnection,
    private readonly params: RealtimeParams,
  ) {
    super(conn);
    this.session = params.session;
    this.settings = params.settings;
    this.input = this.openInput(params.settings.format);
    this.emit({ type: params.beta ? "transcription_session.created" : "session.created", session: this.describe() });
    this.listen();
  }

  private openInput(name: InputFormat): { decoder: PcmStreamDecoder; resampler: Resampler } {
    const { format, rate } = INPUT_FORMATS[name];
    return { decoder: new PcmStreamDecoder(format, 1, rate), resampler: new Resampler(rate, this.deps.speech.stt.sampleRate) };
  }

  protected idle(): Promise<void> {
    return this.end(1000, "idle timeout");
  }

  protected onMessage(data: Buffer, isBinary: boolean): void {
    this.touch();
    let msg: Record<string, unknown> | undefined;
    try {
      if (isBinary) throw new ClientError("invalid_message", "binary frames are not accepted: send JSON events, with audio base64 in input_audio_buffer.append");
      const text = data.toString("utf8");
      try {
        msg = JSON.parse(text) as Record<string, unknown>;
      } catch {
        throw new ClientError("invalid_json", "the event is not valid JSON");
      }
      if (typeof msg !== "object" || msg === null) throw new ClientError("invalid_json", "an event must be a JSON object");
      this.dispatch(msg);
    } catch (err) {
      this.error(err, msg?.event_id);
    }
  }

  private dispatch(msg: Record<string, unknown>): void {
    switch (msg.type) {
      case "transcription_session.update":
        return this.update(parseBetaSession(msg.session), "transcription_session.updated");
      case "session.update":
        return this.update(parseGaSession(msg.session), "session.updated");
      case "input_audio_buffer.append":
        return this.append(msg.audio);
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
      default:
        throw new ClientError("invalid_value", `unsupported event type "${String(msg.type).slice(0, 64)}": this server serves transcription sessions`, "type");
    }
  }

  private update(next: Partial<Settings>, reply: string): void {
    if (next.model !== undefined) resolveModel(this.deps, "stt", next.model);
    const settings = { ...this.settings, ...next };
    // A new input rate may need the other decoder (G.711's 8 kHz gets a narrowband one).
    const reopen =
      settings.silenceMs !== this.settings.silenceMs || settings.language !== this.settings.language || INPUT_FORMATS[settings.format].rate !== INPUT_FORMATS[this.settings.format].rate;
    // Audio appended from here on goes to the fresh stream (the queue runs in order), so it counts from now.
    if (reopen) this.bufferedMs = 0;
    // Audio appended from here on is read in the new format.
    if (settings.format !== this.settings.format) this.input = this.openInput(settings.format);
    this.enqueue(async () => {
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

  private append(audio: unknown): void {
    if (typeof audio !== "string") throw new ClientError("invalid_value", `input_audio_buffer.append needs audio: base64 ${this.settings.format}`, "audio");
    const bytes = Buffer.from(audio, "base64");
    const { decoder, resampler } = this.input;
    const seconds = Math.floor(bytes.length / (decoder.format.bits / 8)) / decoder.sampleRate;
    this.audioSeconds += seconds;
    if (this.audioSeconds > this.deps.config.MAX_AUDIO_SECONDS) {
      this.error(new ClientError("audio_limit", `the session passed the limit of ${this.deps.config.MAX_AUDIO_SECONDS} s of audio`));
      return void this.end(1008, "audio limit");
    }
    this.bufferedMs += seconds * 1000;
    this.enqueue(async () => {
      const samples = resampler.process(await decoder.push(bytes));
      if (samples.length > 0) this.handle(await this.session.push(samples), false);
    });
  }

  protected async failed(err: unknown): Promise<void> {
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
    await this.session.close();
  }
}

const object = (v: unknown): Record<string, unknown> | undefined => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

function turnDetection(v: unknown, param: string): number | null | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  const t = object(v);
  if (!t || (t.type !== undefined && t.type !== "server_vad")) throw new ClientError("invalid_value", `${param}: only server_vad (or null, for manual commits) is supported`, param);
  const ms = t.silence_duration_ms ?? DEFAULT_SILENCE_MS;
  if (typeof ms !== "number" || !Number.isInteger(ms) || ms < 0 || ms > 10_000) throw new ClientError("invalid_value", `${param}.silence_duration_ms must be an integer from 0 to 10000`, param);
  return ms;
}

function transcription(v: unknown): Partial<Settings> {
  const t = object(v);
  if (!t) return {};
  return {
    ...(typeof t.model === "string" ? { model: t.model } : {}),
    ...(typeof t.language === "string" && t.language !== "" ? { language: t.language } : {}),
  };
}

function withTurn(out: Partial<Settings>, silence: number | null | undefined): Partial<Settings> {
  return silence === undefined ? out : { ...out, silenceMs: silence };
}

function withFormat(out: Partial<Settings>, format: InputFormat | undefined): Partial<Settings> {
  return format === undefined ? out : { ...out, format };
}

/** transcription_session.update (the beta API, which LiveKit's plugin speaks). */
function parseBetaSession(v: unknown): Partial<Settings> {
  const s = object(v);
  if (!s) throw new ClientError("invalid_value", "session must be an object", "session");
  let format: InputFormat | undefined;
  if (s.input_audio_format !== undefined) {
    if (typeof s.input_audio_format !== "string" || !Object.hasOwn(INPUT_FORMATS, s.input_audio_format)) {
      throw new ClientError("invalid_value", `input_audio_format must be one of ${Object.keys(INPUT_FORMATS).join(", ")}`, "session.input_audio_format");
    }
    format = s.input_audio_format as InputFormat;
  }
  return withFormat(withTurn(transcription(s.input_audio_transcription), turnDetection(s.turn_detection, "session.turn_detection")), format);
}

/** session.update with a transcription session (the GA API, which the openai SDK speaks). */
function parseGaSession(v: unknown): Partial<Settings> {
  const s = object(v);
  if (!s) throw new ClientError("invalid_value", "session must be an object", "session");
  if (s.type !== undefined && s.type !== "transcription") throw new ClientError("invalid_value", 'this server serves transcription sessions only: session.type must be "transcription"', "session.type");
  const input = object(object(s.audio)?.input) ?? {};
  const f = object(input.format);
  const format = f && (Object.keys(INPUT_FORMATS) as InputFormat[]).find((name) => INPUT_FORMATS[name].type === f.type && (f.rate === undefined || f.rate === INPUT_FORMATS[name].rate));
  if (f && !format) {
    throw new ClientError("invalid_value", `audio.input.format: use audio/pcm at ${INPUT_FORMATS.pcm16.rate} Hz, audio/pcmu or audio/pcma (8 kHz)`, "session.audio.input.format");
  }
  return withFormat(withTurn(transcription(input.transcription), turnDetection(input.turn_detection, "session.audio.input.turn_detection")), format);
}
