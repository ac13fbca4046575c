/** Shared by the engine tests and the engine benchmark: test audio made by the TTS engine itself, and word error rate. */
import type { Speech, StreamOptions } from "../../src/engines/types";
import { LIVE_DEFAULTS, type LiveOptions } from "../../src/params/deepgram-listen";
import { concatSamples } from "../../src/shared/samples";

/** Sentences Flite speaks clearly (pocketsphinx fails on other synthesizers' audio; see ENGINEERING.md). */
export const SENTENCES = [
  "the quick brown fox jumps over the lazy dog",
  "please call me back tomorrow morning",
  "the weather today is sunny and warm",
  "i would like to order a large pizza",
  "our meeting has been moved to the second floor",
  "she sells sea shells by the sea shore",
  "turn left at the next traffic light",
  "the train to boston leaves at noon",
  "my phone number has changed since last year",
  "thank you for calling customer service",
];

export async function synthesizeAll(speech: Speech, text: string, voice = "slt"): Promise<Int16Array> {
  const chunks: Int16Array[] = [];
  for await (const c of speech.synthesize(text, { voice })) chunks.push(c);
  return concatSamples(chunks);
}

/** A live session's options: Deepgram's defaults (the engine has none of its own) with a test's own. */
export const live = (options: Partial<LiveOptions> = {}): StreamOptions => ({ live: { ...LIVE_DEFAULTS, ...options } });

export const toFloat = (pcm: Int16Array): Float32Array => Float32Array.from(pcm, (s) => s / 32768);

export function silence(seconds: number, rate = 16000): Float32Array {
  return new Float32Array(Math.round(seconds * rate));
}

export const concat = (...parts: Float32Array[]): Float32Array => concatSamples(parts);

/** One WER for tests, benchmarks and the real-speech evaluation (its normalisation is described there). */
export { wordErrorRate } from "../../eval/wer";
