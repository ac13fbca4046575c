/**
 * Split text into pieces a TTS engine can synthesize one at a time, so the first audio is ready after
 * the first piece rather than after the whole text. Sentences are the unit; a long sentence is cut at
 * clause punctuation, and a clause with no punctuation at all is cut at a word limit.
 */

/** The first piece stays short so the first audio comes back quickly; later ones may be longer. */
const FIRST_PIECE_WORDS = 12;
const MAX_PIECE_WORDS = 30;

const wordCount = (s: string) => s.split(/\s+/).filter(Boolean).length;

function splitLong(clause: string, maxWords: number): string[] {
  const words = clause.split(/\s+/).filter(Boolean);
  const out: string[] = [];
  for (let i = 0; i < words.length; i += maxWords) out.push(words.slice(i, i + maxWords).join(" "));
  return out;
}

export function splitForSynthesis(text: string): string[] {
  // Control characters are never speech; they would only reach the synthesizer as noise.
  const clean = text.replace(/[\u0000-\u001f\u007f]+/g, " ").replace(/\s+/g, " ").trim();
  if (clean === "") return [];
  const sentences = clean.match(/[^.!?]+(?:[.!?]+["')\]]*|$)\s*/g) ?? [clean];
  const pieces: string[] = [];
  for (const raw of sentences) {
    const sentence = raw.trim();
    if (sentence === "") continue;
    const limit = pieces.length === 0 ? FIRST_PIECE_WORDS : MAX_PIECE_WORDS;
    if (wordCount(sentence) <= limit) {
      pieces.push(sentence);
      continue;
    }
    // Cut at clause punctuation, then merge clauses back up to the limit so pieces are not choppy.
    let current = "";
    for (const clause of sentence.split(/(?<=[,;:])\s+/)) {
      const max = pieces.length === 0 ? FIRST_PIECE_WORDS : MAX_PIECE_WORDS;
      const candidate = current ? `${current} ${clause}` : clause;
      if (wordCount(candidate) <= max) {
        current = candidate;
        continue;
      }
      if (current) pieces.push(current);
      const parts = splitLong(clause, pieces.length === 0 ? FIRST_PIECE_WORDS : MAX_PIECE_WORDS);
      current = parts.pop() ?? "";
      pieces.push(...parts);
    }
    if (current) pieces.push(current);
  }
  return pieces.filter((p) => /[\p{L}\p{N}]/u.test(p));
}
