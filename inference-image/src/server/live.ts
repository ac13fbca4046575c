/**
 * Deepgram-compatible live transcription: `GET /v1/listen` upgraded to a WebSocket.
 * In: binary audio frames (raw linear16/linear32/mulaw/alaw with encoding and sample_rate, or a container stream
 * sent with no encoding: WAV, WebM/Opus as MediaRecorder writes it, Ogg Opus/Vorbis, mp3, FLAC; decoded as it arrives),
 * and JSON control messages KeepAlive, Finalize, CloseStream, Configure (keyterms from the next utterance on). Out: `Results` (interim when interim_results=true,
 * final, speech_final after `endpointing` ms of silence), `SpeechStarted` at speech onsets (vad_events=true),
 * `UtteranceEnd` once utterance_end_ms passed after the last finalized word, `Metadata` at the end.
 * Everything that can be refused is refused before the upgrade, as a plain HTTP answer (401/403/400/429).
 */
import { createHash } from "node:crypto";
import type { RawAudio } from "../audio/pcm";
import { rawFormat } from "../audio/upload";
import { type ModelInfo, type SttStreamSession, type StreamEvent } from "../engines/types";
import { declaredAudio, liveControlMessage, liveOptions, liveQuery, type LiveQuery, queryVocabulary, unperformed } from "../params/deepgram-listen";
import { keywordTerms, MAX_VOCABULARY_TERMS, vocabularyOf } from "../params/vocabulary";
import { HttpError } from "../shared/http";
import { type SocketConnection, socketRoute } from "./context";
import { errorBody } from "./errors";
import { deepgramAlternative, deepgramModelInfo, modelUuid, round } from "./formats";
import { resolveModel } from "./models";
import { parseParams } from "./params";
import { DeepgramStreamSession, jsonFrame, SessionClose } from "./sockets";
import type { TurnLatency } from "./turn-latency";

/** What the session is opened with: the query, its model, and the engine stream, opened before the upgrade. */
interface LiveStart {
  model: ModelInfo;
  session: SttStreamSession;
  /** The raw PCM the query declared, if any (else a container, recognised by its bytes). */
  raw: RawAudio | undefined;
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
      "Receives Results (is_final, speech_final, from_finalize), SpeechStarted (vad_events), UtteranceEnd (utterance_end_ms), " +
      "ConfigureSuccess or ConfigureFailure (one per Configure) and Metadata (at the end). Closes 1011 NET-0001 after LIVE_IDLE_TIMEOUT_MS without audio or KeepAlive. Browsers may authenticate " +
      "with Sec-WebSocket-Protocol: token, <key>.",
    ok: { description: "Switching protocols" },
    errors: [400],
    messages: liveControlMessage,
  },
  async reserve(deps, query) {
    const { speech, config } = deps;
    const model = resolveModel(deps, "stt", query.model);
    const raw = rawFormat(declaredAudio(query));
    const session = await speech.openStream({
      live: liveOptions(query),
      // Raw PCM names its rate up front (telephony mu-law at 8 kHz); a container's is known only once decoded.
      sourceRate: raw?.sampleRate,
      interimMs: config.LIVE_INTERIM_MS,
      vocabulary: queryVocabulary(query),
    });
    return { model, session, raw };
  },
  release: ({ session }) => session.close(),
  start: (conn, query, { model, session, raw }) => new LiveSession(conn, query, model, session, raw),
});

class LiveSession extends DeepgramStreamSession {
  protected readonly name = "live";
  private readonly hash = createHash("sha256");
  private readonly modelUuid: string;
  protected readonly latency: TurnLatency;
  /** The start of the utterance the last interim was about (its first interim is timed). */
  private interimOf: number | undefined;
  private readonly features: string[];
  /** The keywords parameter's terms: Configure replaces the keyterms and keeps these. */
  private readonly keywordTerms: string[];

  constructor(
    conn: SocketConnection,
    query: LiveQuery,
    private readonly model: ModelInfo,
    protected readonly session: SttStreamSession,
    raw: RawAudio | undefined,
  ) {
    super(conn, raw);
    this.modelUuid = modelUuid(model);
    this.latency = this.turnLatency("/v1/listen");
    this.keywordTerms = keywordTerms(query.keywords);
    this.features = ["stt-live", ...unperformed(query, true), ...(query.interim_results ? ["interim_results"] : [])];
    this.listen();
  }

  protected onControl(text: string): void {
    const json = jsonFrame(text, "KeepAlive, Finalize, CloseStream or Configure");
    const msg = parseParams(liveControlMessage, json);
    if (!msg.ok) {
      // A refused Configure leaves the stream as it was, as Deepgram's does.
      if ((json as { type?: unknown } | null)?.type === "Configure") return this.sendJson({ type: "ConfigureFailure", request_id: this.requestId, description: msg.issue.message });
      throw new SessionClose(1008, "INVALID_MESSAGE", msg.issue.message);
    }
    switch (msg.value.type) {
      case "KeepAlive":
        return;
      case "Finalize":
        return this.enqueue(async () => this.send(await this.session.finalize(), true));
      case "CloseStream":
        return void this.end(1000, "");
      case "Configure":
        return this.configure(msg.value.keyterms);
    }
  }

  /** Configure: new keyterms (null or absent keeps them), from the next utterance on; ConfigureSuccess once the engine has them. */
  private configure(keyterms: string[] | null | undefined): void {
    if (keyterms === null || keyterms === undefined) return this.sendJson({ type: "ConfigureSuccess", request_id: this.requestId });
    if (keyterms.length + this.keywordTerms.length > MAX_VOCABULARY_TERMS) {
      return this.sendJson({ type: "ConfigureFailure", request_id: this.requestId, description: `keyterms and keywords: at most ${MAX_VOCABULARY_TERMS} terms together` });
    }
    this.enqueue(async () => {
      await this.session.configure({ vocabulary: vocabularyOf([...keyterms, ...this.keywordTerms]) ?? { terms: [] } });
      this.sendJson({ type: "ConfigureSuccess", request_id: this.requestId, keyterms });
    });
  }

  protected onAudio(buf: Buffer): void {
    if (buf.length === 0) return;
    this.hash.update(buf);
    // Decoders are stateful and some are async: decode in the engine's queue, in arrival order.
    const arrived = performance.now();
    this.enqueue(async () => this.send(await this.decoded(await this.input.push(buf), arrived), false));
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
      // Turn events come only from turn streams (Flux, semantic VAD), which this route does not open.
      if (r.kind !== "result") continue;
      const words = r.transcript.words;
      if (r.speechFinal && words.length > 0) this.latency.observe("speech_end_to_final", words[words.length - 1].end);
      if (!r.isFinal && r.start !== this.interimOf) this.latency.observe("onset_to_first_interim", r.start);
      this.interimOf = r.isFinal ? undefined : r.start;
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
      this.send(await this.decoded(await this.input.end(), performance.now()), false);
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

  protected errorMessage(err: SessionClose): Record<string, unknown> {
    return { type: "Error", ...errorBody(new HttpError(400, err.errCode, err.message), "deepgram", this.requestId) };
  }

  protected usage() {
    return { model: this.model.id, features: this.features, audioSeconds: this.input.seconds, characters: 0 };
  }
}
