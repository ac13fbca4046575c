/**
 * Deepgram-compatible live transcription: `GET /v1/listen` upgraded to a WebSocket.
 * In: binary audio frames (raw linear16/linear32/mulaw/alaw with encoding and sample_rate, or a container stream
 * sent with no encoding: WAV, WebM/Opus as MediaRecorder writes it, Ogg Opus/Vorbis, mp3, FLAC; decoded as it arrives),
 * and JSON control messages KeepAlive, Finalize, CloseStream. Out: `Results` (interim when interim_results=true,
 * final, speech_final after `endpointing` ms of silence), `SpeechStarted` at speech onsets (vad_events=true),
 * `UtteranceEnd` once utterance_end_ms passed after the last finalized word, `Metadata` at the end.
 * Everything that can be refused is refused before the upgrade, as a plain HTTP answer (401/403/400/429).
 */
import { createHash } from "node:crypto";
import { QueueFullError, type ModelInfo, type SttStreamSession, type StreamEvent } from "../engines/types";
import { HttpError } from "../shared/http";
import { parseRawSpec, rawFormat, Resampler, type SampleFormat, SUPPORTED_INPUT } from "./audio";
import type { ApiKeys } from "./auth";
import type { Deps } from "./context";
import { createStreamDecoder, PcmStreamDecoder, sniffContainer, type StreamDecoder } from "./codecs";
import { refuseCallback, unperformedWarnings } from "./deepgram";
import { errorBody } from "./errors";
import { deepgramAlternative, deepgramModelInfo, modelUuid, round } from "./formats";
import { flag } from "./http";
import { resolveModel } from "./models";
import { type OpenSocket, type SocketConnection, SocketRoute, TranscriptionSession } from "./sockets";

const ROUTE = "/v1/listen";
/** A container stream is recognised from this many first bytes (RIFF....WAVE is the longest magic). */
const SNIFF_BYTES = 12;

interface LiveParams {
  model: ModelInfo;
  language?: string;
  /** Headerless audio in this format, rate and channel count; undefined: a container stream, recognised by its bytes. */
  raw?: { format: SampleFormat; sampleRate: number; channels: number };
  interim: boolean;
  /** Silence (ms) before speech_final, or false: finals only on Finalize/CloseStream. */
  endpointing: number | false;
  utteranceEndMs?: number;
  vadEvents: boolean;
  /** Requested features this deployment ignores (reported in the usage record). */
  unperformed: string[];
}

/** What prepare() hands the session: its parameters and the engine stream, opened before the upgrade. */
interface LiveStart {
  params: LiveParams;
  session: SttStreamSession;
}

/** Deepgram's default endpointing: speech_final after 10 ms of silence. */
const DEFAULT_ENDPOINTING_MS = 10;

function intParam(q: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const raw = q.get(name);
  if (raw === null) return undefined;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isInteger(n) || n < min || n > max) throw new HttpError(400, "invalid_parameter", `${name} must be an integer from ${min} to ${max}`);
  return n;
}

function endpointingParam(q: URLSearchParams): number | false {
  const raw = q.get("endpointing")?.toLowerCase();
  if (raw === "false") return false;
  if (raw === undefined || raw === "true") return DEFAULT_ENDPOINTING_MS;
  return intParam(q, "endpointing", 0, 60_000) ?? DEFAULT_ENDPOINTING_MS;
}

class CloseWith extends Error {
  constructor(
    readonly wsCode: number,
    readonly errCode: string,
    message: string,
  ) {
    super(message);
  }
}

export class LiveEndpoint extends SocketRoute<LiveStart> {
  constructor(deps: Deps, keys: ApiKeys) {
    super(deps, keys, ROUTE, "deepgram", "stt-live");
  }

  protected async prepare(q: URLSearchParams): Promise<LiveStart> {
    const params = this.parseParams(q);
    // Opened now so a full server answers 429 before the upgrade.
    const session = await this.deps.speech.openStream({
      language: params.language,
      // Raw PCM names its rate up front (telephony mu-law at 8 kHz); a container's is known only once decoded.
      sourceRate: params.raw?.sampleRate,
      endpointingMs: params.endpointing,
      interimMs: this.deps.config.LIVE_INTERIM_MS,
      utteranceEndMs: params.utteranceEndMs,
    });
    return { params, session };
  }

  protected release({ session }: LiveStart): Promise<void> {
    return session.close();
  }

  protected start({ params, session }: LiveStart, conn: SocketConnection): OpenSocket {
    return new LiveSession(conn, session, params);
  }

  private parseParams(q: URLSearchParams): LiveParams {
    refuseCallback(q);
    const unperformed = unperformedWarnings(q).map((w) => w.parameter);
    const model = resolveModel(this.deps, "stt", q.get("model") ?? undefined);
    const encoding = q.get("encoding");
    let raw: LiveParams["raw"];
    // opus and flac name containers (Ogg, WebM, FLAC), which carry their own header: recognised by their bytes.
    if (encoding !== null && encoding !== "opus" && encoding !== "flac") {
      if (!rawFormat(encoding)) {
        throw new HttpError(400, "unsupported_encoding", `encoding "${encoding.slice(0, 32)}" is not supported. Supported: ${SUPPORTED_INPUT}`);
      }
      raw = parseRawSpec({ encoding, sampleRate: q.get("sample_rate") ?? undefined, channels: q.get("channels") ?? undefined });
    }
    return {
      model,
      language: q.get("language") ?? undefined,
      raw,
      interim: flag(q, "interim_results"),
      endpointing: endpointingParam(q),
      utteranceEndMs: intParam(q, "utterance_end_ms", 1, 60_000),
      vadEvents: flag(q, "vad_events"),
      unperformed,
    };
  }
}

class LiveSession extends TranscriptionSession {
  private ending = false;
  private readonly hash = createHash("sha256");
  private readonly modelUuid: string;
  /** A container stream's first bytes, until there are enough to recognise it; then its decoder. */
  private sniffed = Buffer.alloc(0);
  private decoder: StreamDecoder | undefined;
  private resampler: Resampler | undefined;
  private sourceSeconds = 0;
  private readonly features: string[];

  constructor(
    conn: SocketConnection,
    private readonly session: SttStreamSession,
    private readonly params: LiveParams,
  ) {
    super(conn);
    this.modelUuid = modelUuid(params.model);
    if (params.raw) this.decoder = new PcmStreamDecoder(params.raw.format, params.raw.channels, params.raw.sampleRate);
    this.features = ["stt-live", ...params.unperformed, ...(params.interim ? ["interim_results"] : [])];
    this.listen();
  }

  protected idle(): Promise<void> {
    return this.fail(new CloseWith(1011, "NET-0001", "no audio or KeepAlive received within the idle timeout"));
  }

  protected onMessage(buf: Buffer, isBinary: boolean): void {
    if (this.ending) return;
    this.touch();
    try {
      if (isBinary) this.onAudio(buf);
      else this.onControl(buf.toString("utf8"));
    } catch (err) {
      void this.fail(err instanceof CloseWith ? err : new CloseWith(1008, "DATA-0000", (err as Error).message));
    }
  }

  private onControl(text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      throw new CloseWith(1008, "INVALID_MESSAGE", "text frames must be JSON control messages: KeepAlive, Finalize or CloseStream");
    }
    const type = typeof msg === "object" && msg !== null ? (msg as { type?: unknown }).type : undefined;
    if (type === "KeepAlive") return;
    if (type === "Finalize") {
      this.enqueue(async () => this.send(await this.session.finalize(), true));
      return;
    }
    if (type === "CloseStream") {
      void this.end(1000, "");
      return;
    }
    throw new CloseWith(1008, "INVALID_MESSAGE", `unknown control message type; expected KeepAlive, Finalize or CloseStream`);
  }

  private onAudio(buf: Buffer): void {
    if (buf.length === 0) return;
    this.hash.update(buf);
    if (!this.decoder) {
      const head = Buffer.concat([this.sniffed, buf]);
      if (head.length < SNIFF_BYTES) {
        this.sniffed = head;
        return;
      }
      const container = sniffContainer(head);
      if (!container || container === "aiff" || container === "mp4") {
        throw new CloseWith(
          1008,
          "DATA-0000",
          `audio is not a stream this server recognises (WAV, WebM/Opus, Ogg, mp3, FLAC) and no encoding was declared: send encoding=linear16|mulaw|alaw&sample_rate=N for raw audio. Supported: ${SUPPORTED_INPUT}`,
        );
      }
      this.decoder = createStreamDecoder(container, this.deps.speech.stt.sampleRate);
      this.sniffed = Buffer.alloc(0);
      buf = head;
    }
    const decoder = this.decoder;
    // Decoders are stateful and some are async: decode in the engine's queue, in arrival order.
    this.enqueue(async () => this.feed(await decoder.push(buf)));
  }

  /** Decoded source-rate audio: count it against the limit, resample to the engine's rate, transcribe. */
  private async feed(mono: Float32Array): Promise<void> {
    if (mono.length === 0) return;
    const rate = this.decoder!.sampleRate;
    this.resampler ??= new Resampler(rate, this.deps.speech.stt.sampleRate);
    this.sourceSeconds += mono.length / rate;
    if (this.sourceSeconds > this.deps.config.MAX_AUDIO_SECONDS) {
      throw new CloseWith(1008, "DATA-0001", `the stream passed the limit of ${this.deps.config.MAX_AUDIO_SECONDS} s of audio`);
    }
    const samples = this.resampler.process(mono);
    if (samples.length > 0) this.send(await this.session.push(samples), false);
  }

  protected failed(err: unknown): Promise<void> {
    if (err instanceof CloseWith) return this.fail(err);
    // A decoder's refusal (corrupt or unsupported audio) names what was wrong.
    if (err instanceof HttpError) return this.fail(new CloseWith(1008, "DATA-0000", err.message));
    return this.fail(new CloseWith(1011, "NET-0000", err instanceof QueueFullError ? "server busy" : "transcription failed"));
  }

  private send(events: StreamEvent[], fromFinalize: boolean): void {
    for (const r of events) {
      if (r.kind === "speech-started") {
        if (this.params.vadEvents) this.sendJson({ type: "SpeechStarted", channel: [0], timestamp: round(r.timestamp) });
        continue;
      }
      if (r.kind === "utterance-end") {
        this.sendJson({ type: "UtteranceEnd", channel: [0, 1], last_word_end: round(r.lastWordEnd) });
        continue;
      }
      if (!r.isFinal && (!this.params.interim || r.transcript.text === "")) continue;
      this.sendJson({
        type: "Results",
        channel_index: [0, 1],
        duration: round(r.transcript.durationS),
        start: round(r.start),
        is_final: r.isFinal,
        speech_final: r.speechFinal,
        ...(fromFinalize ? { from_finalize: true } : {}),
        channel: { alternatives: [deepgramAlternative(r.transcript)] },
        metadata: { request_id: this.requestId, model_info: deepgramModelInfo(this.params.model), model_uuid: this.modelUuid },
      });
    }
  }

  /** Flush what was sent, report Metadata, close (CloseStream, shutdown). */
  override async end(code: number, reason: string): Promise<void> {
    if (this.ending) return this.done;
    this.ending = true;
    this.stopIdleTimer();
    this.enqueue(async () => {
      if (this.decoder) await this.feed(await this.decoder.end());
      const tail = this.resampler?.flush();
      if (tail && tail.length > 0) this.send(await this.session.push(tail), false);
      this.send(await this.session.finalize(), true);
    });
    await this.chain;
    this.sendJson({
      type: "Metadata",
      transaction_key: "deprecated",
      request_id: this.requestId,
      sha256: this.hash.digest("hex"),
      created: new Date().toISOString(),
      duration: round(this.sourceSeconds),
      channels: this.decoder?.channels || 1,
      models: [this.modelUuid],
      model_info: { [this.modelUuid]: deepgramModelInfo(this.params.model) },
    });
    await this.closeWith(code, reason);
  }

  /** The session's key was revoked: close at once (1008, policy violation), without waiting for pending results. */
  override revoke(): void {
    this.deps.logger.info("closing a live session: its API key was revoked", { team: this.caller.team.name, key_id: this.caller.keyId, request_id: this.requestId });
    void this.fail(new CloseWith(1008, "KEY_REVOKED", "the API key of this session was revoked"));
  }

  private async fail(err: CloseWith): Promise<void> {
    if (this.closed) return;
    this.ending = true;
    this.sendJson({ type: "Error", ...errorBody(new HttpError(400, err.errCode, err.message), "deepgram", this.requestId) });
    await this.closeWith(err.wsCode, err.errCode);
  }

  protected usage() {
    return { model: this.params.model.id, features: this.features, audioSeconds: this.sourceSeconds, characters: 0 };
  }

  protected override async release(): Promise<void> {
    // After any decode still in the queue: freeing WASM memory under a running decode would trap.
    void this.chain.then(() => this.decoder?.free());
    await this.session.close();
  }
}
