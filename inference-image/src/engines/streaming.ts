/**
 * One live transcription session inside a worker: Silero VAD decides where utterances start and end,
 * an utterance decoder transcribes them. Silence between utterances never reaches the decoder; a short
 * pre-roll does, so the first phoneme (heard before VAD is sure) is not lost.
 *
 * It performs the live options (one resolved object, Deepgram's names and semantics). Timing is on the stream
 * clock (samples received), so it holds whatever the client's pacing: speech-started at each VAD onset
 * (vad_events), speechFinal once `endpointing` ms of silence followed speech, interims every `interimMs` of
 * speech from the decoder's running hypothesis (interim_results; no re-decode), utterance-end once
 * `utterance_end_ms` passed since the last finalized word's end, and uh and um dropped unless filler_words.
 */
import type { LiveOptions } from "../params/deepgram-listen";
import { DecoderSlot } from "./decoder-slot";
import { makeTranscript, type UtteranceDecoder } from "./engine";
import type { StreamEvent, StreamResult, Transcript } from "./types";
import { SpeechDetector, VAD_WINDOW, WindowFramer } from "./vad";

/** The fillers Deepgram drops unless filler_words=true (developers.deepgram.com/docs/filler-words). */
const isFiller = (token: string): boolean => /^(uh|um)$/i.test(token.replace(/[^\p{L}]/gu, ""));

/** Audio kept from before VAD confirms speech: its minimum speech duration plus a margin. */
const PREROLL_S = 0.6;
/** Longer utterances are cut into finals (speech_final false) so results keep coming and memory stays bounded. */
const MAX_UTTERANCE_S = 30;

export class StreamSession {
  private readonly prerollMax: number;
  private readonly interimEvery: number;
  private readonly utteranceEnd: number | undefined;
  /** Whether the decoder's running hypothesis is read as the utterance goes (for interims, or utterance ends). */
  private readonly hypotheses: boolean;
  private preroll: Float32Array[] = [];
  private prerollLen = 0;
  private readonly framer = new WindowFramer();
  /** Samples seen so far (the stream clock). */
  private seen = 0;
  /** Stream sample where the current utterance starts; -1 between utterances. */
  private uttStart = -1;
  private uttLen = 0;
  private sinceInterim = 0;
  private lastInterim = "";
  private wasInSpeech = false;
  /**
   * End (stream seconds) of the last word heard, from finals and interims (as Deepgram's utterance end reads
   * both), not yet followed by an utterance-end; so it also works with endpointing off.
   */
  private lastWordEnd: number | undefined;

  private readonly decoders: DecoderSlot;

  constructor(
    decoder: UtteranceDecoder,
    /** Returned to the worker's pool of idle detectors when the session closes. */
    readonly detector: SpeechDetector,
    private readonly sampleRate: number,
    private readonly language: string,
    private readonly options: LiveOptions,
    interimMs: number,
    /** Takes back a decoder the session no longer uses (the worker pools or frees it). */
    private readonly release: (decoder: UtteranceDecoder) => void,
  ) {
    this.decoders = new DecoderSlot(decoder, release);
    this.prerollMax = Math.round(PREROLL_S * sampleRate);
    this.interimEvery = Math.max(VAD_WINDOW, Math.round((interimMs / 1000) * sampleRate));
    this.utteranceEnd = options.utterance_end_ms === undefined ? undefined : (options.utterance_end_ms / 1000) * sampleRate;
    // Utterance ends are read from interims' word times too (as Deepgram's are), so they are computed for either.
    this.hypotheses = options.interim_results || this.utteranceEnd !== undefined;
  }

  push(samples: Float32Array): StreamEvent[] {
    const events: StreamEvent[] = [];
    // Copies: the pre-roll keeps frames past this call.
    for (const frame of this.framer.frames(samples)) this.frame(frame.slice(), events);
    return events;
  }

  /** Flush: the final result for the utterance in progress (an empty final when there is none). */
  finalize(): StreamEvent[] {
    if (this.uttStart < 0) {
      return [{ kind: "result", transcript: this.shift(this.empty(), 0), start: this.seen / this.sampleRate, isFinal: true, speechFinal: false }];
    }
    const rest = this.framer.takeRest();
    if (rest.length > 0) {
      this.decoders.current.accept(rest);
      this.uttLen += rest.length;
      this.seen += rest.length;
    }
    return [this.endUtterance(false)];
  }

  /** Ends the session; its decoders go back through `release`. */
  close(): void {
    if (this.uttStart >= 0) this.decoders.current.finish();
    this.uttStart = -1;
    this.decoders.dropPending();
    this.release(this.decoders.current);
  }

  /** Decode with `decoder` from the next utterance on: at once between utterances, else when this one ends. */
  replaceDecoder(decoder: UtteranceDecoder): void {
    this.decoders.replace(decoder, this.uttStart >= 0);
  }

  private frame(frame: Float32Array, events: StreamEvent[]): void {
    const ended = this.detector.accept(frame) && this.options.endpointing !== false;
    const inSpeech = this.detector.inSpeech;
    if (inSpeech && !this.wasInSpeech && this.options.vad_events) {
      // Silero reports speech once it has heard its minimum speech duration: the onset was that long ago.
      const onset = Math.max(0, this.seen + frame.length - this.detector.minSpeechSamples - VAD_WINDOW);
      events.push({ kind: "speech-started", timestamp: onset / this.sampleRate });
    }
    this.wasInSpeech = inSpeech;
    if (this.uttStart >= 0) {
      this.decoders.current.accept(frame);
      this.uttLen += frame.length;
      this.sinceInterim += frame.length;
      this.seen += frame.length;
      if (ended) events.push(this.endUtterance(true));
      else if (this.uttLen >= MAX_UTTERANCE_S * this.sampleRate) events.push(this.endUtterance(false));
      // Until the first words show, look at every frame: the first interim is what a voicebot waits for.
      else if (inSpeech && this.hypotheses && (this.sinceInterim >= this.interimEvery || this.lastInterim === "")) this.interim(events);
      else if (!inSpeech) this.checkUtteranceEnd(events);
      return;
    }
    this.preroll.push(frame);
    this.prerollLen += frame.length;
    this.seen += frame.length;
    while (this.prerollLen - this.preroll[0].length >= this.prerollMax) this.prerollLen -= this.preroll.shift()!.length;
    if (inSpeech && !ended) {
      this.uttStart = this.seen - this.prerollLen;
      for (const f of this.preroll) this.decoders.current.accept(f);
      this.uttLen = this.prerollLen;
      // The pre-roll already holds the onset: the first interim comes as soon as VAD is sure.
      this.sinceInterim = this.prerollLen;
      this.preroll = [];
      this.prerollLen = 0;
      if (this.hypotheses && this.sinceInterim >= this.interimEvery) this.interim(events);
      return;
    }
    this.checkUtteranceEnd(events);
  }

  /** The decoder's running best hypothesis (pocketsphinx keeps it as it searches; nothing is decoded again). */
  private interim(events: StreamEvent[]): void {
    this.sinceInterim = 0;
    const partial = this.decoders.current.partial();
    if (partial.text === "" || partial.text === this.lastInterim) return;
    this.lastInterim = partial.text;
    const transcript = this.shift(partial, this.uttStart);
    const last = transcript.words[transcript.words.length - 1];
    if (last) this.lastWordEnd = last.end;
    if (this.options.interim_results) events.push({ kind: "result", transcript, start: this.uttStart / this.sampleRate, isFinal: false, speechFinal: false });
  }

  private checkUtteranceEnd(events: StreamEvent[]): void {
    if (this.utteranceEnd === undefined || this.lastWordEnd === undefined) return;
    if (this.seen - this.lastWordEnd * this.sampleRate < this.utteranceEnd) return;
    events.push({ kind: "utterance-end", lastWordEnd: this.lastWordEnd });
    this.lastWordEnd = undefined;
  }

  private endUtterance(speechFinal: boolean): StreamResult {
    const start = this.uttStart;
    const transcript = this.shift(this.decoders.current.finish(), start);
    this.decoders.utteranceEnded();
    this.uttStart = -1;
    this.uttLen = 0;
    this.sinceInterim = 0;
    this.lastInterim = "";
    const last = transcript.words[transcript.words.length - 1];
    if (last) this.lastWordEnd = last.end;
    return { kind: "result", transcript, start: start / this.sampleRate, isFinal: true, speechFinal };
  }

  /** Word times from the decoder are relative to the utterance; results carry stream times (and no fillers unless asked for). */
  private shift(t: Transcript, startSample: number): Transcript {
    const offset = startSample / this.sampleRate;
    const words = t.words.map((w) => ({ ...w, start: w.start + offset, end: w.end + offset }));
    if (this.options.filler_words) return { ...t, language: this.language, words };
    const text = t.text.split(/\s+/).filter((token) => token !== "" && !isFiller(token)).join(" ");
    return makeTranscript(words.filter((w) => !isFiller(w.word)), t.durationS, this.language, text);
  }

  private empty(): Transcript {
    return { text: "", words: [], confidence: 0, durationS: 0, language: this.language };
  }
}
