/**
 * One live stream transcribed turn by turn (what Deepgram's Flux and OpenAI's semantic VAD need): a turn
 * starts when the VAD hears speech and ends when the end-of-turn detector (turns/detector.ts) is confident
 * enough, not at the first pause. One decoder utterance spans the whole turn, pauses included, so the
 * words of a turn are decoded together. Timing is on the stream clock (samples received).
 *
 * Events: turn-start; turn-update every `updateMs` of the turn; eager-end once the confidence reaches
 * `eagerThreshold` (when set) during a pause; turn-resumed when speech comes back after an eager-end;
 * turn-end once it reaches `eotThreshold`, or the pause lasts `eotTimeoutMs`. A turn-end that follows an
 * eager-end with no turn-resumed in between repeats the eager-end's transcript, as Flux's clients expect.
 */
import { DecoderSlot } from "./decoder-slot";
import type { UtteranceDecoder } from "./engine";
import { DEFAULT_TURN_OPTIONS, type Transcript, type TurnEvent, type TurnOptions } from "./types";
import { SpeechDetector, VAD_WINDOW, WindowFramer } from "./vad";
import { EndOfTurnDetector, type EotModel, type PauseState } from "../turns/detector";
import { ProsodyTracker } from "../turns/prosody";

/** Audio kept from before the VAD confirms speech, so a turn's first phoneme reaches the decoder. */
const PREROLL_S = 0.6;
/** Words of an ended turn kept as the context of one that goes on with it. */
const CONTEXT_WORDS = 20;
/** A turn this long ends even without a pause (bounded decoder memory, results keep coming). */
const MAX_TURN_S = 60;

export { DEFAULT_TURN_OPTIONS, type TurnEvent, type TurnOptions };

/** For fitting and evaluating the detector offline: every pause frame's state and confidence. */
export type PauseTap = (at: number, pauseStart: number, pause: PauseState, confidence: number, hypothesis: string) => void;

export class TurnStream {
  private readonly frameS: number;
  private readonly prerollMax: number;
  private readonly prosody: ProsodyTracker;
  private readonly eot: EndOfTurnDetector;
  private options: TurnOptions;
  private readonly framer = new WindowFramer();
  private preroll: Float32Array[] = [];
  private prerollLen = 0;
  /** Samples seen (the stream clock). */
  private seen = 0;
  private turn = 0;
  /** Stream sample where the turn in progress starts; -1 between turns. */
  private turnStart = -1;
  private sinceUpdate = 0;
  private eagerTranscript: Transcript | undefined;
  /** The last ended turn's words, and whether the turn in progress goes on with them (the end came too early). */
  private endedText = "";
  private context = "";

  private readonly decoders: DecoderSlot;
  /** Takes back a decoder the stream no longer uses (the worker pools or frees it). */
  onRetire: (decoder: UtteranceDecoder) => void = () => undefined;

  constructor(
    decoder: UtteranceDecoder,
    /** Returned to the worker's idle detectors when the stream closes. */
    readonly detector: SpeechDetector,
    private readonly sampleRate: number,
    private readonly language: string,
    options: Partial<TurnOptions> = {},
    model?: EotModel,
    private readonly tap?: PauseTap,
  ) {
    this.decoders = new DecoderSlot(decoder, (d) => this.onRetire(d));
    this.frameS = VAD_WINDOW / sampleRate;
    this.prerollMax = Math.round(PREROLL_S * sampleRate);
    this.prosody = new ProsodyTracker(sampleRate);
    this.eot = new EndOfTurnDetector(this.frameS, model);
    this.options = { ...DEFAULT_TURN_OPTIONS, ...options };
  }

  /** New thresholds mid-stream (Flux's Configure). */
  configure(options: Partial<TurnOptions>): void {
    this.options = { ...this.options, ...options };
  }

  /** A decoder with a new vocabulary (Flux's Configure keyterms): from the next turn on, since a turn's words are decoded together. */
  replaceDecoder(decoder: UtteranceDecoder): void {
    this.decoders.replace(decoder, this.turnStart >= 0);
  }

  push(samples: Float32Array): TurnEvent[] {
    const events: TurnEvent[] = [];
    for (const frame of this.framer.frames(samples)) this.frame(frame, events);
    return events;
  }

  /** End of the stream, or the client's ForceEndTurn: the turn in progress, if any, ends now. */
  finish(): TurnEvent[] {
    if (this.turnStart < 0) return [];
    const rest = this.framer.takeRest();
    if (rest.length > 0) {
      this.decoders.current.accept(rest);
      this.seen += rest.length;
    }
    return [this.endTurn(1, "manual")];
  }

  /** Release the decoder's utterance; the caller returns decoder and detector to their pools (a pending replacement goes to onRetire). */
  close(): UtteranceDecoder {
    if (this.turnStart >= 0) this.decoders.current.finish();
    this.turnStart = -1;
    this.decoders.dropPending();
    return this.decoders.current;
  }

  private get now(): number {
    return this.seen / this.sampleRate;
  }

  private frame(frame: Float32Array, events: TurnEvent[]): void {
    this.detector.accept(frame);
    const speech = this.detector.inSpeech;
    this.eot.frame(this.prosody.frame(frame), speech);
    this.seen += frame.length;
    if (this.turnStart < 0) {
      this.preroll.push(frame.slice());
      this.prerollLen += frame.length;
      while (this.prerollLen - this.preroll[0].length >= this.prerollMax) this.prerollLen -= this.preroll.shift()!.length;
      if (speech) this.startTurn(events);
      return;
    }
    this.decoders.current.accept(frame);
    this.sinceUpdate += frame.length;
    if (speech) {
      if (this.eagerTranscript) {
        this.eagerTranscript = undefined;
        events.push({ kind: "turn-resumed", at: this.now, turn: this.turn });
      }
    } else {
      const hypothesis = this.decoders.current.partial();
      const pause = this.eot.pause(this.context + hypothesis.text);
      if (pause) {
        const confidence = this.eot.score(pause);
        this.tap?.(this.now, this.eot.pauseStartedAt!, pause, confidence, this.context + hypothesis.text);
        const timedOut = this.eot.pauseS * 1000 >= this.options.eotTimeoutMs;
        if (confidence >= this.options.eotThreshold || timedOut) {
          events.push(this.endTurn(confidence, confidence >= this.options.eotThreshold ? "model" : "timeout"));
          return;
        }
        const eager = this.options.eagerThreshold;
        // Flux: an EagerEndOfTurn always carries words.
        if (eager !== undefined && confidence >= eager && !this.eagerTranscript && hypothesis.text.trim() !== "") {
          this.eagerTranscript = this.shift(hypothesis);
          events.push({ kind: "eager-end", at: this.now, turn: this.turn, transcript: this.eagerTranscript, confidence, turnStart: this.turnStart / this.sampleRate });
        }
      }
    }
    if (this.seen - this.turnStart >= MAX_TURN_S * this.sampleRate) events.push(this.endTurn(0, "timeout"));
    else if (this.sinceUpdate >= (this.options.updateMs / 1000) * this.sampleRate) this.update(events);
  }

  private startTurn(events: TurnEvent[]): void {
    // The words of a turn ended just before count for this one's cues ("... near the" | "train station").
    this.context = this.eot.continuesEndedTurn && this.endedText ? `${this.endedText} ` : "";
    this.turnStart = this.seen - this.prerollLen;
    for (const f of this.preroll) this.decoders.current.accept(f);
    this.preroll = [];
    this.prerollLen = 0;
    this.sinceUpdate = 0;
    events.push({ kind: "turn-start", at: this.now, turn: this.turn });
  }

  private update(events: TurnEvent[]): void {
    this.sinceUpdate = 0;
    const transcript = this.shift(this.decoders.current.partial());
    events.push({ kind: "turn-update", at: this.now, turn: this.turn, transcript, confidence: this.eot.confidence(this.context + transcript.text), turnStart: this.turnStart / this.sampleRate });
  }

  private endTurn(confidence: number, why: "model" | "timeout" | "manual"): TurnEvent {
    const final = this.shift(this.decoders.current.finish());
    const transcript = this.eagerTranscript ?? final;
    const event: TurnEvent = { kind: "turn-end", at: this.now, turn: this.turn, transcript, confidence, turnStart: this.turnStart / this.sampleRate, why };
    // The last words only: a run of turns that each go on with the one before must not grow without bound.
    this.endedText = `${this.context}${transcript.text}`.split(" ").slice(-CONTEXT_WORDS).join(" ");
    this.eot.endTurn();
    this.eagerTranscript = undefined;
    this.turnStart = -1;
    this.turn++;
    this.decoders.utteranceEnded();
    return event;
  }

  /** Word times from the decoder are relative to the turn; events carry stream times. */
  private shift(t: Transcript): Transcript {
    const offset = this.turnStart / this.sampleRate;
    return { ...t, language: this.language, words: t.words.map((w) => ({ ...w, start: w.start + offset, end: w.end + offset })) };
  }
}
