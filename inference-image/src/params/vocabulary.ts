/**
 * Custom vocabulary, the way each client family asks for it, turned into the terms the engine favours
 * (engines/types.ts `Vocabulary`):
 * - Deepgram `keyterm` (repeatable): each value is a term (a word or a short phrase), as written.
 * - Deepgram `keywords` (repeatable, `word` or `word:boost`): Deepgram's boost is an exponential intensifier
 *   (default 1, 0 as if the keyword were not sent, negative suppresses; developers.deepgram.com/docs/keywords).
 *   The built-in engine gives every listed term the same share of its language model (the one setting that was
 *   measured), so a positive boost lists the word whatever its size, 0 leaves it out, and a negative boost
 *   (suppression) is refused: this engine cannot suppress a word.
 * - OpenAI `prompt` (uploads, and the realtime session's transcription prompt): its words written with a capital
 *   letter or a digit (how names, acronyms, drugs and product codes are written) become terms; lowercase words
 *   are context the engine has no use for. "Calls to the Digium PBX from Unistim phones" gives Calls, Digium,
 *   PBX, Unistim.
 */
import { z } from "zod/v4";

/** At most this many terms per request or session, each at most MAX_TERM_CHARS: each new word costs the search time and memory. */
export const MAX_VOCABULARY_TERMS = 100;
export const MAX_TERM_CHARS = 50;

const term = z
  .string()
  .trim()
  .min(1, { error: "a vocabulary term may not be empty" })
  .max(MAX_TERM_CHARS, { error: `a vocabulary term may have at most ${MAX_TERM_CHARS} characters` });

/** A repeatable parameter: a list of at most MAX_VOCABULARY_TERMS values. */
const repeatable = <T extends z.ZodType<string>>(item: T, name: string, description: string) =>
  z
    .array(item)
    .max(MAX_VOCABULARY_TERMS, { error: `${name}: at most ${MAX_VOCABULARY_TERMS} values` })
    .default([])
    .meta({ description });

/** Deepgram's keyterm: one term per value. */
export const keytermField = repeatable(term, "keyterm", `Repeatable: a word or phrase to recognise (names, products, codes); at most ${MAX_VOCABULARY_TERMS} terms of ${MAX_TERM_CHARS} characters`);

interface Keyword {
  word: string;
  boost: number;
}

/** `word` or `word:boost` (the boost after the last colon); undefined when the boost is not a number. */
function parseKeyword(value: string): Keyword | undefined {
  const colon = value.lastIndexOf(":");
  if (colon < 0) return { word: value.trim(), boost: 1 };
  const boost = value.slice(colon + 1).trim();
  if (boost === "" || !Number.isFinite(Number(boost))) return undefined;
  return { word: value.slice(0, colon).trim(), boost: Number(boost) };
}

const keyword = z.string().superRefine((value, ctx) => {
  const k = parseKeyword(value);
  const refuse = (message: string) => ctx.addIssue({ code: "custom", message });
  if (!k) refuse(`keywords must be word or word:boost with a numeric boost, got "${value}"`);
  else if (k.word === "" || k.word.length > MAX_TERM_CHARS) refuse(`keywords: a word of 1 to ${MAX_TERM_CHARS} characters is needed, got "${value}"`);
  else if (k.boost < 0) refuse(`keywords: a negative boost (suppression) is not performed by this deployment's model, got "${value}"`);
});

/** Deepgram's keywords: `word` or `word:boost`. */
export const keywordsField = repeatable(
  keyword,
  "keywords",
  "Repeatable: word or word:boost (a number; default 1). A positive boost lists the word (every listed term gets the same weight); 0 leaves it out; negative is refused",
);

/** The terms of a Deepgram query's keywords (those with a positive boost). */
export function keywordTerms(keywords: string[]): string[] {
  return keywords.map(parseKeyword).flatMap((k) => (k && k.boost > 0 ? [k.word] : []));
}

/** keyterm and keywords together stay within MAX_VOCABULARY_TERMS (refinement of a Deepgram query). */
export function vocabularyWithinLimit(q: { keyterm: string[]; keywords: string[] }, ctx: z.RefinementCtx): void {
  const n = q.keyterm.length + keywordTerms(q.keywords).length;
  if (n > MAX_VOCABULARY_TERMS) ctx.addIssue({ code: "custom", path: ["keyterm"], message: `keyterm and keywords: at most ${MAX_VOCABULARY_TERMS} terms together, got ${n}` });
}

const PROMPT_WORD = /[\p{L}\p{N}][\p{L}\p{N}'’.-]*/gu;

/** The terms an OpenAI prompt gives: its distinct words written with a capital letter or a digit. */
export function promptTerms(prompt: string | undefined): string[] {
  const terms = new Map<string, string>();
  for (const [match] of (prompt ?? "").matchAll(PROMPT_WORD)) {
    const word = match.replace(/[.'’-]+$/, "");
    if (/[\p{Lu}\p{N}]/u.test(word) && !terms.has(word.toLowerCase())) terms.set(word.toLowerCase(), word);
  }
  return [...terms.values()];
}

/** OpenAI's prompt, read as vocabulary: refused when it gives more terms than the engine takes. */
export const promptField = z
  .string()
  .superRefine((prompt, ctx) => {
    const terms = promptTerms(prompt);
    if (terms.length > MAX_VOCABULARY_TERMS) {
      ctx.addIssue({ code: "custom", message: `prompt: at most ${MAX_VOCABULARY_TERMS} vocabulary terms (words with a capital letter or a digit), got ${terms.length}` });
    }
    const long = terms.find((t) => t.length > MAX_TERM_CHARS);
    if (long) ctx.addIssue({ code: "custom", message: `prompt: a vocabulary term may have at most ${MAX_TERM_CHARS} characters: "${long.slice(0, MAX_TERM_CHARS)}..."` });
  })
  .optional()
  .meta({ description: `Words written with a capital letter or a digit (names, acronyms, codes) become vocabulary terms, at most ${MAX_VOCABULARY_TERMS}; the rest is ignored` });

/** The engine's vocabulary for these terms; none for no terms. */
export function vocabularyOf(terms: string[]): { terms: string[] } | undefined {
  return terms.length > 0 ? { terms } : undefined;
}
