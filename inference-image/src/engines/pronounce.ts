/**
 * Pronunciations for custom vocabulary, in the phone set of the pocketsphinx US English model:
 * - a word the CMU dictionary has keeps its own pronunciations;
 * - otherwise Flite's letter-to-sound (its lexicon, then its trained rules; flite.ts);
 * - a term written in capitals of up to five letters ("PBX", "IAX") may be said letter by letter, so it
 *   also gets the spelled pronunciation from the dictionary's letter names ("p." P IY).
 */
import fs from "node:fs";
import { FlitePhonemizer } from "./flite";

/** Flite's CMU phones that the model lacks: its reduced vowels, which the CMU dictionary writes as AH and ER. */
const FLITE_TO_MODEL: Record<string, string> = { ax: "AH", axr: "ER" };
const MAX_SPELLED_LETTERS = 5;

/** A word as the decoder's dictionary spells it: lower case, letters, digits and apostrophes. */
export function dictionaryWord(word: string): string {
  return word.toLowerCase().replace(/[^a-z0-9']/g, "");
}

export class Pronouncer {
  private readonly dict = new Map<string, string[]>();
  private readonly phones = new Set<string>();
  private flite?: FlitePhonemizer;

  constructor(dictFile: string) {
    for (const line of fs.readFileSync(dictFile, "utf8").split("\n")) {
      const [head, ...pron] = line.trim().split(/\s+/);
      if (!head || pron.length === 0) continue;
      const word = head.replace(/\(\d+\)$/, "");
      const prons = this.dict.get(word) ?? [];
      prons.push(pron.join(" "));
      this.dict.set(word, prons);
      for (const p of pron) this.phones.add(p);
    }
  }

  has(word: string): boolean {
    return this.dict.has(dictionaryWord(word));
  }

  /** Pronunciations of one written word (as the client wrote it: case tells an acronym), each a space-separated phone string. */
  pronounce(written: string): string[] {
    const word = dictionaryWord(written);
    if (!word) return [];
    const own = this.dict.get(word);
    if (own) return own;
    const out = new Set<string>();
    this.flite ??= new FlitePhonemizer();
    const lts = this.flite.phones(word).map((p) => FLITE_TO_MODEL[p] ?? p.toUpperCase());
    if (lts.length > 0 && lts.every((p) => this.phones.has(p))) out.add(lts.join(" "));
    if (/^[A-Z]{2,}$/.test(written) && written.length <= MAX_SPELLED_LETTERS) {
      const letters = [...word].map((l) => this.dict.get(`${l}.`)?.[0]);
      if (letters.every(Boolean)) out.add(letters.join(" "));
    }
    return [...out];
  }
}
