/**
 * Word error rate the way ASR evaluations count it: (substitutions + deletions + insertions) / reference
 * words, after both texts are normalised alike, so only recognition errors count, not spelling choices:
 * - lower case; numbers spelled out as words ("press 1" = "press one", "28.8" = "twenty eight point
 *   eight"; number-to-words), since the engines write words;
 * - punctuation dropped and hyphens split ("Call-Forward" = "call forward"), an apostrophe inside a word
 *   kept ("party's");
 * - the title abbreviations the engines spell out (mr, mrs, dr) written in full.
 * The edit distance is fastest-levenshtein's over word symbols (each distinct word mapped to one character).
 */
import { distance } from "fastest-levenshtein";
import { toWords } from "number-to-words";

const ABBREVIATIONS: Record<string, string> = { mr: "mister", mrs: "missus", dr: "doctor" };

function spellNumber(token: string): string {
  const [whole, fraction] = token.split(".");
  const spoken = toWords(Number(whole));
  return fraction ? `${spoken} point ${[...fraction].map((d) => toWords(Number(d))).join(" ")}` : spoken;
}

/** The words of `text`, normalised for scoring. */
export function normalizeWords(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/\d+(\.\d+)?/g, (n) => ` ${spellNumber(n)} `)
    .replace(/[-,]/g, " ")
    .replace(/[^a-z' ]+/g, " ")
    .split(/\s+/)
    .map((w) => w.replace(/^'+|'+$/g, ""))
    .filter(Boolean)
    .map((w) => ABBREVIATIONS[w] ?? w);
}

/** Word-level edit distance: each distinct word becomes one character (from U+0100, no surrogates). */
function wordDistance(reference: string[], hypothesis: string[]): number {
  const symbols = new Map<string, string>();
  const encode = (words: string[]) => words.map((w) => symbols.get(w) ?? symbols.set(w, String.fromCharCode(0x100 + symbols.size)).get(w)!).join("");
  return distance(encode(reference), encode(hypothesis));
}

export interface WerCount {
  /** Substitutions + deletions + insertions. */
  errors: number;
  referenceWords: number;
}

export function countErrors(reference: string, hypothesis: string): WerCount {
  const r = normalizeWords(reference);
  return { errors: wordDistance(r, normalizeWords(hypothesis)), referenceWords: r.length };
}

/** WER of one pair; an empty reference scores 0 for an empty hypothesis and 1 otherwise. */
export function wordErrorRate(reference: string, hypothesis: string): number {
  const { errors, referenceWords } = countErrors(reference, hypothesis);
  return referenceWords === 0 ? (errors === 0 ? 0 : 1) : errors / referenceWords;
}

/** Pooled WER (all errors over all reference words) and the mean of the per-clip WERs. */
export function summarize(counts: WerCount[]): { pooled: number; mean: number; clips: number; words: number } {
  const words = counts.reduce((s, c) => s + c.referenceWords, 0);
  const errors = counts.reduce((s, c) => s + c.errors, 0);
  const mean = counts.reduce((s, c) => s + (c.referenceWords === 0 ? (c.errors === 0 ? 0 : 1) : c.errors / c.referenceWords), 0) / Math.max(1, counts.length);
  return { pooled: words === 0 ? 0 : errors / words, mean, clips: counts.length, words };
}

/** Term recall: of the listed terms' occurrences in the references, how many the hypotheses contain (per clip, at most as often). */
export function termRecall(terms: string[], pairs: { reference: string; hypothesis: string }[]): { found: number; occurrences: number; recall: number } {
  const wanted = new Set(terms.flatMap((t) => normalizeWords(t)));
  let found = 0;
  let occurrences = 0;
  for (const { reference, hypothesis } of pairs) {
    const hyp = normalizeWords(hypothesis);
    for (const term of wanted) {
      const inRef = normalizeWords(reference).filter((w) => w === term).length;
      occurrences += inRef;
      found += Math.min(inRef, hyp.filter((w) => w === term).length);
    }
  }
  return { found, occurrences, recall: occurrences === 0 ? 0 : found / occurrences };
}
