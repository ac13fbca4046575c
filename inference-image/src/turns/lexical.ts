/**
 * What the words so far say about whether a turn is over: English clauses do not end on a conjunction,
 * an article, a preposition or a possessive ("I want to ...", "and ...", "the ..."), a filler says the
 * speaker is still thinking ("um"), and a number being dictated ("my number is five five five ...")
 * goes on until it has its usual length. The lists are general English function words and fillers.
 */

/** Words after which an English clause is not complete. */
const CONTINUATION_WORDS = new Set([
  // conjunctions
  "and", "or", "but", "so", "because", "since", "if", "then", "than", "that", "which", "who", "when", "while", "although", "unless", "until", "whether",
  // articles and determiners
  "a", "an", "the", "this", "these", "those", "some", "any", "each", "every", "another", "no",
  // prepositions
  "to", "of", "in", "on", "at", "for", "with", "from", "about", "by", "into", "onto", "near", "between", "after", "before", "under", "over", "through", "like", "as", "per", "via",
  // possessives and subject pronouns
  "my", "your", "our", "his", "her", "their", "its", "i", "we", "they", "he", "she",
  // auxiliaries and copulas that need a complement
  "is", "are", "was", "were", "be", "been", "am", "would", "will", "can", "could", "should", "shall", "might", "must", "do", "does", "did", "have", "has", "had", "want", "need",
]);

/** Hesitation sounds, as a recognizer spells them. */
const FILLERS = new Set(["um", "umm", "uh", "uhh", "er", "erm", "hmm", "hm", "mm", "ah", "eh"]);

const DIGITS = new Set(["zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]);

/**
 * Words that announce a dictated number, and the fewest digits such a number has: a phone number 7
 * (local) or 10, a card's last digits 4, a ZIP code 5; any other code or account number at least 4.
 */
const NUMBER_KINDS: { words: string[]; digits: number }[] = [
  { words: ["phone", "number", "call", "reach"], digits: 7 },
  { words: ["zip", "postal", "postcode"], digits: 5 },
  { words: ["card", "ends", "pin", "code", "account", "extension", "reference", "confirmation", "order", "id"], digits: 4 },
];

export interface LexicalCues {
  /** The last word leaves a clause open (conjunction, article, preposition, possessive, auxiliary). */
  continuation: boolean;
  /** The last word is a hesitation sound. */
  filler: boolean;
  /** A number announced earlier is being dictated and is still shorter than such numbers are. */
  numberIncomplete: boolean;
  /** Words in the hypothesis. */
  words: number;
}

export function tokens(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^a-z' ]+/g, " ")
    .split(/\s+/)
    .filter(Boolean);
}

export function lexicalCues(text: string): LexicalCues {
  const words = tokens(text);
  const last = words[words.length - 1] ?? "";
  let trailingDigits = 0;
  while (trailingDigits < words.length && DIGITS.has(words[words.length - 1 - trailingDigits])) trailingDigits++;
  let numberIncomplete = false;
  if (trailingDigits > 0) {
    const before = new Set(words.slice(0, words.length - trailingDigits));
    const kind = NUMBER_KINDS.find((k) => k.words.some((w) => before.has(w)));
    if (kind) numberIncomplete = trailingDigits < kind.digits;
  }
  return { continuation: CONTINUATION_WORDS.has(last), filler: FILLERS.has(last), numberIncomplete, words: words.length };
}
