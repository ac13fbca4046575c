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
import { AudioError, AudioTooLongError } from "../audio/errors";
import { StreamingInput, UnrecognisedStreamError } from "../audio/stream-input";
import { QueueFullError, type ModelInfo, type SttStreamSession, type StreamEvent } from "../engines/types";
import { declaredAudio, liveControlMessage, liveOptions, liveQuery, type LiveQuery, unperformed } from "../params/deepgram-listen";
import { HttpError } from "../shared/http";
import { type SocketConnection, socketRoute } from "./context";
import { errorBody } from "./errors";
import { deepgramAlternative, deepgramModelInfo, modelUuid, round } from "./formats";
import { resolveModel } from "./models";
import { parseParams } from "./params";
import { TranscriptionSession } from "./sockets";

/** What the session is opened with: the query, its model, and the engine stream, opened before the upgrade. */
interface LiveStart {
  model: ModelInfo;
  session: SttStreamSession;
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

export const liveRoute = socketRoute<LiveQuery, LiveStart>({
  kind: "socket",
  method: "GET",
  path: "/v1/listen",
  family: "deepgram",
  auth: true,
  feature: "stt-live",
  query: liveQuery,
  doc: {
    summary: "Live transcription (Deepgram) over a WebSocket",
    description:
      "Upgrade to a WebSocket. Send binary audio frames (raw linear16/linear32/mulaw/alaw with encoding and sample_rate, or with no " +
      "encoding a WAV, WebM/Opus (MediaRecorder), Ogg, mp3 or FLAC stream, decoded as it arrives) and the text frames below. " +
      "Receives Results (is_final, speech_final, from_finalize), SpeechStarted (vad_events), UtteranceEnd (utterance_end_ms) and " +
      "Metadata (at the end). Closes 1011 NET-0001 after LIVE_IDLE_TIMEOUT_MS without audio or KeepAlive. Browsers may authenticate " +
      "with Sec-WebSocket-Protocol: token, <key>.",
    ok: { description: "Switching protocols" },
    errors: [400],
    messages: liveControlMessage,
  },
  async reserve({ speech, config }, query) {
    const model = resolveModel(speech, "stt", query.model);
    const declared = declaredAudio(query);
    const session = await speech.openStream({
      live: liveOptions(query),
      // Raw PCM names its rate up front (telephony mu-law at 8 kHz); a container's is known only once decoded.
      sourceRate: typeof declared === "object" ? declared.sampleRate : undefined,
      interimMs: config.LIVE_INTERIM_MS,
    });
    return { model, session };
  },
  release: ({ session }) => session.close(),
  start: (conn, query, { model, session }) => new LiveSession(conn, query, model, session),
});

class LiveSession extends TranscriptionSession {
  private ending = false;
  private readonly hash = createHash("sha256");
  private readonly modelUuid: string;
  private readonly input: StreamingInput;
  private readonly features: string[];

  constructor(
    conn: SocketConnection,
    query: LiveQuery,
    private readonly model: ModelInfo,
    private readonly session: SttStreamSession,
  ) {
    super(conn);
    this.modelUuid = modelUuid(model);
    const declared = declaredAudio(query);
    this.input = new StreamingInput({ raw: typeof declared === "object" ? declared : undefined, outRate: this.deps.speech.stt.sampleRate, maxSeconds: this.deps.config.MAX_AUDIO_SECONDS });
    this.features = ["stt-live", ...unperformed(query, true), ...(query.interim_results ? ["interim_results"] : [])];
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
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new CloseWith(1008, "INVALID_MESSAGE", "text frames must be JSON control messages: KeepAlive, Finalize or CloseStream");
    }
    const msg = parseParams(liveControlMessage, json);
    if (!msg.ok) throw new CloseWith(1008, "INVALID_MESSAGE", msg.issue.message);
    switch (msg.value.type) {
      case "KeepAlive":
        return;
      case "Finalize":
        return this.enqueue(async () => this.send(await this.session.finalize(), true));
      case "CloseStream":
        return void this.end(1000, "");
    }
  }

  private onAudio(buf: Buffer): void {
    if (buf.length === 0) return;
    this.hash.update(buf);
    // Decoders are stateful and some are async: decode in the engine's queue, in arrival order.
    this.enqueue(async () => this.transcribe(await this.input.push(buf)));
  }

  private async transcribe(samples: Float32Array): Promise<void> {
    if (samples.length > 0) this.send(await this.session.push(samples), false);
  }

  protected failed(err: unknown): Promise<void> {
    if (err instanceof CloseWith) return this.fail(err);
    if (err instanceof UnrecognisedStreamError) {
      return this.fail(new CloseWith(1008, "DATA-0000", `${err.message}: send encoding=linear16|mulaw|alaw&sample_rate=N for raw audio`));
    }
    if (err instanceof AudioTooLongError) return this.fail(new CloseWith(1008, "DATA-0001", err.message));
    // A decoder's refusal (corrupt or unsupported audio) names what was wrong.
    if (err instanceof AudioError) return this.fail(new CloseWith(1008, "DATA-0000", err.message));
    return this.fail(new CloseWith(1011, "NET-0000", err instanceof QueueFullError ? "server busy" : "transcription failed"));
  }

  private send(events: StreamEvent[], fromFinalize: boolean): void {
    for (const r of events) {
      if (r.kind === "speech-started") {
        this.sendJson({ type: "SpeechStarted", channel: [0], timestamp: round(r.timestamp) });
        continue;
      }
      if (r.kind === "utterance-end") {
        this.sendJson({ type: "UtteranceEnd", channel: [0, 1], last_word_end: round(r.lastWordEnd) });
        continue;
      }
      this.sendJson({
        type: "Results",
        channel_index: [0, 1],
        duration: round(r.transcript.durationS),
        start: round(r.start),
        is_final: r.isFinal,
        speech_final: r.speechFinal,
        ...(fromFinalize ? { from_finalize: true } : {}),
        channel: { alternatives: [deepgramAlternative(r.transcript)] },
        metadata: { request_id: this.requestId, model_info: deepgramModelInfo(this.model), model_uuid: this.modelUuid },
      });
    }
  }

  /** Flush what was sent, report Metadata, close (CloseStream, shutdown). */
  override async end(code: number, reason: string): Promise<void> {
    if (this.ending) return this.done;
    this.ending = true;
    this.stopIdleTimer();
    this.enqueue(async () => {
      await this.transcribe(await this.input.end());
      this.send(await this.session.finalize(), true);
    });
    await this.chain;
    // Accounted for before Metadata, the answer's end: a client that saw it is never missing from usage.
    this.settleOnce();
    this.sendJson({
      type: "Metadata",
      transaction_key: "deprecated",
      request_id: this.requestId,
      sha256: this.hash.digest("hex"),
      created: new Date().toISOString(),
      duration: round(this.input.seconds),
      channels: this.input.channels,
      models: [this.modelUuid],
      model_info: { [this.modelUuid]: deepgramModelInfo(this.model) },
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
    return { model: this.model.id, features: this.features, audioSeconds: this.input.seconds, characters: 0 };
  }

  protected override async release(): Promise<void> {
    // After any decode still in the queue: freeing WASM memory under a running decode would trap.
    void this.chain.then(() => this.input.free());
    await this.session.close();
  }
}
