/**
 * Deepgram Flux (turn-taking speech recognition): `GET /v2/listen` upgraded to a WebSocket. The stream is
 * transcribed turn by turn (engines/turn-stream.ts): a turn spans its pauses and ends when the end-of-turn
 * detector (turns/detector.ts) is confident enough, not at the first silence.
 * In: binary audio (raw with encoding and sample_rate, or a container recognised by its bytes) and the JSON
 * messages Configure, ForceEndTurn, KeepAlive, CloseStream. Out: Connected, then TurnInfo events StartOfTurn,
 * Update (every ~0.25 s of a turn), EagerEndOfTurn (with eager_eot_threshold), TurnResumed and EndOfTurn,
 * ConfigureSuccess/ConfigureFailure, and Error before a close it causes. Every message carries sequence_id,
 * counted from 0 over all the server's messages. Auth, teams, scopes, limits, usage and shutdown are the pipeline's.
 */
import type { RawAudio } from "../audio/pcm";
import { rawFormat } from "../audio/upload";
import { DEFAULT_TURN_OPTIONS, EngineInputError, type ModelInfo, type StreamEvent, type SttStreamSession, type Transcript, type TurnOptions, type Vocabulary } from "../engines/types";
import { LIVE_DEFAULTS } from "../params/deepgram-listen";
import type { z } from "zod/v4";
import { fluxControlMessage, fluxDeclaredAudio, fluxQuery, type FluxQuery, type fluxThresholds, thresholdsConflict } from "../params/deepgram-flux";
import { type SocketConnection, socketRoute } from "./context";
import { round } from "./formats";
import { resolveModel } from "./models";
import { parseParams } from "./params";
import { DeepgramStreamSession, jsonFrame, SessionClose } from "./sockets";
import type { TurnLatency } from "./turn-latency";

interface FluxStart {
  model: ModelInfo;
  session: SttStreamSession;
  /** The raw PCM the query declared, if any (else a container, recognised by its bytes). */
  raw: RawAudio | undefined;
}

/** Every TurnInfo Update comes after this much more of a turn's audio (Flux: about every 0.25 s). */
const FLUX_UPDATE_MS = 250;

function fluxTurnOptions(q: { eot_threshold: number; eager_eot_threshold?: number; eot_timeout_ms: number }): TurnOptions {
  return { eotThreshold: q.eot_threshold, eagerThreshold: q.eager_eot_threshold, eotTimeoutMs: q.eot_timeout_ms, updateMs: FLUX_UPDATE_MS };
}

const fluxVocabulary = (terms: string[]): Vocabulary | undefined => (terms.length > 0 ? { terms } : undefined);

/** A Configure's thresholds checked against the ones in force (the eager one must not pass the end one). */
function configuredThresholds(current: TurnOptions, next: z.output<typeof fluxThresholds>): { ok: true; turns: Partial<TurnOptions> } | { ok: false; message: string } {
  const conflict = thresholdsConflict(next.eot_threshold ?? current.eotThreshold, next.eager_eot_threshold ?? current.eagerThreshold);
  if (conflict) return { ok: false, message: conflict };
  const turns: Partial<TurnOptions> = {};
  if (next.eot_threshold !== undefined) turns.eotThreshold = next.eot_threshold;
  if (next.eager_eot_threshold !== undefined) turns.eagerThreshold = next.eager_eot_threshold;
  if (next.eot_timeout_ms !== undefined) turns.eotTimeoutMs = next.eot_timeout_ms;
  return { ok: true, turns };
}

/** The engine's turn events by Flux's names. */
const FLUX_EVENTS = { "turn-start": "StartOfTurn", "turn-update": "Update", "eager-end": "EagerEndOfTurn", "turn-resumed": "TurnResumed", "turn-end": "EndOfTurn" } as const;

export const fluxRoute = socketRoute<FluxQuery, FluxStart>({
  kind: "socket",
  method: "GET",
  path: "/v2/listen",
  family: "deepgram",
  auth: true,
  feature: "stt-live",
  query: fluxQuery,
  doc: {
    summary: "Turn-taking live transcription (Deepgram Flux) over a WebSocket",
    description:
      "Upgrade to a WebSocket. Send binary audio (raw linear16/linear32/mulaw/alaw with encoding and sample_rate, or a WAV, Ogg or " +
      "WebM stream with no encoding) and the text frames below. Receives Connected, then TurnInfo {event, turn_index, " +
      "audio_window_start, audio_window_end, transcript, words, end_of_turn_confidence} with event StartOfTurn, Update (about every " +
      "0.25 s of a turn), EagerEndOfTurn (only with eager_eot_threshold), TurnResumed and EndOfTurn (trigger: model, timeout or " +
      "manual). An EndOfTurn repeats the preceding EagerEndOfTurn's transcript unless a TurnResumed came between. The end-of-turn " +
      "confidence comes from a CPU detector (the VAD, the words so far, pitch and level at the pause, the speaker's own pauses).",
    ok: { description: "Switching protocols" },
    errors: [400],
    messages: fluxControlMessage,
  },
  async reserve(deps, query) {
    const model = resolveModel(deps, "stt", query.model);
    const raw = rawFormat(fluxDeclaredAudio(query));
    const session = await deps.speech.openStream({
      live: LIVE_DEFAULTS,
      sourceRate: raw?.sampleRate,
      vocabulary: fluxVocabulary(query.keyterm),
      turns: fluxTurnOptions(query),
    });
    return { model, session, raw };
  },
  release: ({ session }) => session.close(),
  start: (conn, query, { model, session, raw }) => new FluxSession(conn, query, model, session, raw),
});

class FluxSession extends DeepgramStreamSession {
  protected readonly name = "Flux";
  private sequence = 0;
  protected readonly latency: TurnLatency;
  /** The turn whose first Update was timed. */
  private updatedTurn = -1;
  private turns: TurnOptions;
  private keyterms: string[];

  constructor(
    conn: SocketConnection,
    query: FluxQuery,
    private readonly model: ModelInfo,
    protected readonly session: SttStreamSession,
    raw: RawAudio | undefined,
  ) {
    super(conn, raw);
    this.turns = { ...DEFAULT_TURN_OPTIONS, ...fluxTurnOptions(query) };
    this.latency = this.turnLatency("/v2/listen");
    this.keyterms = query.keyterm;
    this.send({ type: "Connected", request_id: this.requestId });
    this.listen();
  }

  /** Every server message carries the next sequence_id. */
  private send(msg: Record<string, unknown>): void {
    this.sendJson({ ...msg, sequence_id: this.sequence++ });
  }

  protected onAudio(buf: Buffer): void {
    if (buf.length === 0) return;
    const arrived = performance.now();
    this.enqueue(async () => this.emit(await this.decoded(await this.input.push(buf), arrived)));
  }

  protected onControl(text: string): void {
    const json = jsonFrame(text, "Configure, ForceEndTurn, KeepAlive or CloseStream");
    const msg = parseParams(fluxControlMessage, json);
    if (!msg.ok) {
      // A Configure Flux refuses is answered, not fatal.
      if ((json as { type?: unknown })?.type === "Configure") return this.send({ type: "ConfigureFailure", request_id: this.requestId, description: msg.issue.message });
      throw new SessionClose(1008, "INVALID_MESSAGE", msg.issue.message);
    }
    const m = msg.value;
    switch (m.type) {
      case "KeepAlive":
        return;
      case "CloseStream":
        return void this.end(1000, "");
      case "ForceEndTurn":
        return this.enqueue(async () => this.emit(await this.session.finalize()));
      case "Configure": {
        const checked = configuredThresholds(this.turns, m.thresholds ?? {});
        if (!checked.ok) return this.send({ type: "ConfigureFailure", request_id: this.requestId, description: checked.message });
        const turns = { ...this.turns, ...checked.turns };
        const keyterms = m.keyterms ?? this.keyterms;
        this.enqueue(async () => {
          try {
            await this.session.configure({ turns: checked.turns, vocabulary: m.keyterms ? { terms: m.keyterms } : undefined });
          } catch (err) {
            // Keyterms the engine refuses (too many, too long): the stream goes on with what it had.
            if (err instanceof EngineInputError) return this.send({ type: "ConfigureFailure", request_id: this.requestId, description: err.message });
            throw err;
          }
          this.turns = turns;
          this.keyterms = keyterms;
          this.send({
            type: "ConfigureSuccess",
            request_id: this.requestId,
            thresholds: { eot_threshold: turns.eotThreshold, eot_timeout_ms: turns.eotTimeoutMs, ...(turns.eagerThreshold !== undefined ? { eager_eot_threshold: turns.eagerThreshold } : {}) },
            keyterms,
          });
        });
        return;
      }
    }
  }

  /** A detected end of turn, from the end of its last word; a turn's first Update, from its onset. */
  private time(e: Extract<StreamEvent, { turn: number }>): void {
    if (e.kind === "turn-end" && e.why !== "manual" && e.transcript.words.length > 0) {
      this.latency.observe("speech_end_to_end_of_turn", e.transcript.words[e.transcript.words.length - 1].end);
    }
    if (e.kind === "turn-update" && e.turn !== this.updatedTurn) {
      this.updatedTurn = e.turn;
      this.latency.observe("onset_to_first_interim", e.turnStart);
    }
  }

  private emit(events: StreamEvent[]): void {
    for (const e of events) {
      if (!(e.kind in FLUX_EVENTS)) continue;
      const turn = e as Extract<StreamEvent, { turn: number }>;
      const transcript: Transcript | undefined = "transcript" in turn ? turn.transcript : undefined;
      this.time(turn);
      this.send({
        type: "TurnInfo",
        request_id: this.requestId,
        event: FLUX_EVENTS[turn.kind],
        turn_index: turn.turn,
        audio_window_start: round("turnStart" in turn ? turn.turnStart : turn.at),
        audio_window_end: round(turn.at),
        transcript: transcript?.text ?? "",
        words: (transcript?.words ?? []).map((w) => ({ word: w.word, confidence: round(w.confidence), start: round(w.start), end: round(w.end) })),
        end_of_turn_confidence: round("confidence" in turn ? turn.confidence : 0),
        ...(turn.kind === "turn-end" ? { trigger: turn.why } : {}),
      });
    }
  }

  /** CloseStream or shutdown: the turn in progress ends (EndOfTurn), then the socket closes. */
  override async end(code: number, reason: string): Promise<void> {
    if (this.ending) return this.done;
    this.ending = true;
    this.stopIdleTimer();
    this.enqueue(async () => {
      this.emit(await this.decoded(await this.input.end(), performance.now()));
      this.emit(await this.session.finalize());
    });
    await this.chain;
    await this.closeWith(code, reason);
  }

  protected errorMessage(err: SessionClose): Record<string, unknown> {
    return { type: "Error", code: err.errCode, description: err.message, sequence_id: this.sequence++ };
  }

  protected usage() {
    return { model: this.model.id, features: ["stt-live", "flux"], audioSeconds: this.input.seconds, characters: 0 };
  }
}
