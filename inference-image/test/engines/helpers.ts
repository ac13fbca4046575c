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

const words = (s: string) => s.toLowerCase().replace(/[^a-z0-9' ]+/g, " ").split(/\s+/).filter(Boolean);

/** Word error rate: word-level edit distance over the reference length. */
export function wordErrorRate(reference: string, hypothesis: string): number {
  const r = words(reference);
  const h = words(hypothesis);
  let prev = Array.from({ length: h.length + 1 }, (_, j) => j);
  for (let i = 1; i <= r.length; i++) {
    const cur = [i];
    for (let j = 1; j <= h.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r[i - 1] === h[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return r.length === 0 ? (h.length === 0 ? 0 : 1) : prev[h.length] / r.length;
}
