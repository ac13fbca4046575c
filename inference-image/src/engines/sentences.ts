/**
 * Split text into pieces a TTS engine can synthesize one at a time, so the first audio is ready after
 * the first piece rather than after the whole text. Sentences are the unit; a sentence longer than the
 * piece limit is cut into clauses (after , ; : and dashes, before conjunctions), merged back up to the
 * limit; a clause with no such boundary is cut at the word limit.
 */

/** The first piece stays short so the first audio comes back quickly (~8 words is ~2.5 s of speech). */
export const FIRST_PIECE_WORDS = 8;
/** Later pieces are synthesized while earlier audio plays, so they may be longer (fewer prosody breaks). */
export const MAX_PIECE_WORDS = 30;
/** No piece shorter than this when it can be avoided: one- or two-word fragments sound clipped. */
export const MIN_PIECE_WORDS = 3;

/** Words that open a clause; a cut before them falls where a speaker could pause. */
const CONJUNCTIONS = new Set([
  "and", "but", "or", "nor", "so", "yet", "because", "although", "though", "while", "whereas", "unless", "until", "which", "who", "whose", "where", "when",
]);

/** Cut a sentence's words into clauses (arrays of words). */
function clauses(words: string[]): string[][] {
  const out: string[][] = [];
  let current: string[] = [];
  words.forEach((word, i) => {
    const bare = word.toLowerCase().replace(/^[^\p{L}]+|[^\p{L}]+$/gu, "");
    if (i > 0 && current.length > 0 && CONJUNCTIONS.has(bare)) {
      out.push(current);
      current = [];
    }
    current.push(word);
    if (/[,;:\u2013\u2014]["')\]]*$/.test(word) || /^(-|--|\u2013|\u2014)$/.test(word)) {
      out.push(current);
      current = [];
    }
  });
  if (current.length > 0) out.push(current);
  return out;
}

/** Pieces of one sentence; `first` is true when it opens the text (so its first piece is the short one). */
function splitSentence(words: string[], first: boolean): string[][] {
  const pieces: string[][] = [];
  const limit = () => (first && pieces.length === 0 ? FIRST_PIECE_WORDS : MAX_PIECE_WORDS);
  let current: string[] = [];
  for (const clause of clauses(words)) {
    if (current.length === 0 || current.length < MIN_PIECE_WORDS || current.length + clause.length <= limit()) {
      current = current.concat(clause);
    } else {
      pieces.push(current);
      current = clause;
    }
    // A clause with no boundary inside: cut at the limit, leaving at least MIN_PIECE_WORDS for what follows.
    while (current.length > limit()) {
      const rest = current.length - limit();
      const cut = rest < MIN_PIECE_WORDS ? current.length - MIN_PIECE_WORDS : limit();
      if (cut < MIN_PIECE_WORDS) break;
      pieces.push(current.slice(0, cut));
      current = current.slice(cut);
    }
  }
  if (current.length > 0) {
    // A short tail joins the piece before it rather than being spoken alone.
    if (current.length < MIN_PIECE_WORDS && pieces.length > 0) pieces[pieces.length - 1].push(...current);
    else pieces.push(current);
  }
  return pieces;
}

export function splitForSynthesis(text: string): string[] {
  // Control characters are never speech; they would only reach the synthesizer as noise.
  const clean = text.replace(/[\u0000-\u001f\u007f]+/g, " ").replace(/\s+/g, " ").trim();
  if (clean === "") return [];
  const sentences = clean.match(/[^.!?]+(?:[.!?]+["')\]]*|$)\s*/g) ?? [clean];
  const pieces: string[] = [];
  for (const sentence of sentences) {
    if (!/[\p{L}\p{N}]/u.test(sentence)) continue;
    const words = sentence.split(" ").filter(Boolean);
    const limit = pieces.length === 0 ? FIRST_PIECE_WORDS : MAX_PIECE_WORDS;
    if (words.length <= limit) pieces.push(words.join(" "));
    else pieces.push(...splitSentence(words, pieces.length === 0).map((p) => p.join(" ")));
  }
  return pieces.filter((p) => /[\p{L}\p{N}]/u.test(p));
}
