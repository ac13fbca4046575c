/**
 * One live transcription session inside a worker: Silero VAD decides where utterances start and end,
 * an utterance decoder transcribes them. Silence between utterances never reaches the decoder; a short
 * pre-roll does, so the first phoneme (heard before VAD is sure) is not lost.
 */
import type { UtteranceDecoder } from "./engine";
import type { StreamResult, Transcript } from "./types";
import { SpeechDetector, VAD_WINDOW } from "./vad";

/** Audio kept from before VAD confirms speech: its minimum speech duration plus a margin. */
const PREROLL_S = 0.6;
/** An interim result for every this much new speech. */
const INTERIM_EVERY_S = 0.75;
/** Longer utterances are cut into finals (speech_final false) so results keep coming. */
const MAX_UTTERANCE_S = 30;

export class StreamSession {
  private readonly prerollMax: number;
  private preroll: Float32Array[] = [];
  private prerollLen = 0;
  private leftover = new Float32Array(0);
  /** Samples seen so far (the stream clock). */
  private seen = 0;
  /** Stream sample where the current utterance starts; -1 between utterances. */
  private uttStart = -1;
  private uttLen = 0;
  private sinceInterim = 0;

  constructor(
    private readonly decoder: UtteranceDecoder,
    /** Returned to the worker's pool of idle detectors when the session closes. */
    readonly detector: SpeechDetector,
    private readonly sampleRate: number,
    private readonly language: string,
  ) {
    this.prerollMax = Math.round(PREROLL_S * sampleRate);
  }

  push(samples: Float32Array): StreamResult[] {
    const audio = new Float32Array(this.leftover.length + samples.length);
    audio.set(this.leftover);
    audio.set(samples, this.leftover.length);
    const results: StreamResult[] = [];
    let at = 0;
    for (; at + VAD_WINDOW <= audio.length; at += VAD_WINDOW) this.frame(audio.slice(at, at + VAD_WINDOW), results);
    this.leftover = audio.slice(at);
    return results;
  }

  /** Flush: the final result for the utterance in progress (an empty final when there is none). */
  finalize(): StreamResult[] {
    if (this.uttStart < 0) {
      return [{ transcript: this.shift(this.empty(), 0), start: this.seen / this.sampleRate, isFinal: true, speechFinal: false }];
    }
    if (this.leftover.length > 0) {
      this.decoder.accept(this.leftover);
      this.uttLen += this.leftover.length;
      this.seen += this.leftover.length;
      this.leftover = new Float32Array(0);
    }
    return [this.endUtterance(false)];
  }

  /** Release the decoder's utterance state; the caller returns the decoder to its pool. */
  close(): UtteranceDecoder {
    if (this.uttStart >= 0) this.decoder.finish();
    this.uttStart = -1;
    return this.decoder;
  }

  private frame(frame: Float32Array, results: StreamResult[]): void {
    const ended = this.detector.accept(frame);
    if (this.uttStart >= 0) {
      this.decoder.accept(frame);
      this.uttLen += frame.length;
      this.sinceInterim += frame.length;
      this.seen += frame.length;
      if (ended) results.push(this.endUtterance(true));
      else if (this.uttLen >= MAX_UTTERANCE_S * this.sampleRate) results.push(this.endUtterance(false));
      else if (this.sinceInterim >= INTERIM_EVERY_S * this.sampleRate) {
        this.sinceInterim = 0;
        const partial = this.decoder.partial();
        if (partial.text !== "") {
          results.push({ transcript: this.shift(partial, this.uttStart), start: this.uttStart / this.sampleRate, isFinal: false, speechFinal: false });
        }
      }
      return;
    }
    this.preroll.push(frame);
    this.prerollLen += frame.length;
    this.seen += frame.length;
    while (this.prerollLen - this.preroll[0].length >= this.prerollMax) this.prerollLen -= this.preroll.shift()!.length;
    if (this.detector.inSpeech && !ended) {
      this.uttStart = this.seen - this.prerollLen;
      for (const f of this.preroll) this.decoder.accept(f);
      this.uttLen = this.prerollLen;
      this.sinceInterim = this.prerollLen;
      this.preroll = [];
      this.prerollLen = 0;
    }
  }

  private endUtterance(speechFinal: boolean): StreamResult {
    const start = this.uttStart;
    const transcript = this.decoder.finish();
    this.uttStart = -1;
    this.uttLen = 0;
    this.sinceInterim = 0;
    return { transcript: this.shift(transcript, start), start: start / this.sampleRate, isFinal: true, speechFinal };
  }

  /** Word times from the decoder are relative to the utterance; results carry stream times. */
  private shift(t: Transcript, startSample: number): Transcript {
    const offset = startSample / this.sampleRate;
    return { ...t, language: this.language, words: t.words.map((w) => ({ ...w, start: w.start + offset, end: w.end + offset })) };
  }

  private empty(): Transcript {
    return { text: "", words: [], confidence: 0, durationS: 0, language: this.language };
  }
}
