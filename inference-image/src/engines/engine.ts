/**
 * What one worker thread runs: synchronous, CPU-bound engines. They never run on the main thread;
 * the pool (pool.ts) is what the API sees.
 */
import type { ModelInfo, Transcript, Vocabulary, Word } from "./types";

/** How one clip is transcribed in batch. */
export interface BatchOptions {
  /** Words to recognise for this clip only (engines without the lever ignore it). */
  vocabulary?: Vocabulary;
  /**
   * The clip was telephony audio (8 kHz or less) before it was resampled: decode it with the live narrowband
   * front end. The server does not set it for uploads: on real speech it raised WER (eval:settings measures it).
   */
  narrowband?: boolean;
}

export interface SttEngine {
  readonly info: ModelInfo;
  transcribe(samples: Float32Array, options?: BatchOptions): Transcript;
  /**
   * A decoder for one live utterance at a time; reusable after finish(). `narrowband`: see StreamOptions.sourceRate.
   * With a `vocabulary` the decoder knows its terms and serves that session only (it is freed, not pooled).
   */
  createDecoder(narrowband?: boolean, vocabulary?: Vocabulary): UtteranceDecoder;
  /** Free what the garbage collector cannot: native memory held outside JavaScript objects. Called once, when the worker closes. */
  free?(): void;
}

/** Decodes one utterance incrementally: audio in, partial hypotheses on demand, a final result at the end. */
export interface UtteranceDecoder {
  accept(samples: Float32Array): void;
  /** Best hypothesis so far (word times relative to the utterance start). */
  partial(): Transcript;
  /** Ends the utterance and returns its final result; the decoder is then ready for the next one. */
  finish(): Transcript;
  free(): void;
}

export interface TtsEngine {
  readonly info: ModelInfo;
  readonly defaultVoice: string;
  /** Synthesize one sentence or clause; `voice` is already resolved against info.voices. */
  synthesize(text: string, voice: string, speed: number): Int16Array;
  /** Called when the worker has nothing to do: prepare what the next request would otherwise wait for. */
  idle?(): void;
}

/** Assemble a transcript from words; confidence is the mean word confidence (0 for no words). */
export function makeTranscript(words: Word[], durationS: number, language: string, text?: string): Transcript {
  const confidence = words.length === 0 ? 0 : words.reduce((sum, w) => sum + w.confidence, 0) / words.length;
  return { text: text ?? words.map((w) => w.word).join(" "), words, confidence, durationS, language };
}

export function floatToInt16(samples: Float32Array): Int16Array {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    out[i] = s < 0 ? Math.round(s * 32768) : Math.round(s * 32767);
  }
  return out;
}
