/** The one TTS text splitter: short first piece, clause cuts, no tiny fragments, nothing lost. */
import { FIRST_PIECE_WORDS, MAX_PIECE_WORDS, MIN_PIECE_WORDS, splitForSynthesis } from "../../src/engines/sentences";

const words = (s: string) => s.split(" ").filter(Boolean);

describe("splitForSynthesis", () => {
  it("keeps short sentences whole, one piece per sentence", () => {
    expect(splitForSynthesis("Hello there. How are you?  Fine!")).toEqual(["Hello there.", "How are you?", "Fine!"]);
  });

  it("cuts a long first sentence before a conjunction so the first piece is short", () => {
    expect(splitForSynthesis("please call stella and ask her to bring these things")).toEqual(["please call stella", "and ask her to bring these things"]);
  });

  it("cuts at clause punctuation and merges clauses up to the limit", () => {
    const text = "When the sun rose over the hills, the farmers went out to the fields; the children stayed home with their grandmother, who told them stories.";
    const pieces = splitForSynthesis(text);
    expect(pieces[0]).toBe("When the sun rose over the hills,");
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.join(" ")).toBe(text);
    for (const p of pieces.slice(1)) expect(words(p).length).toBeLessThanOrEqual(MAX_PIECE_WORDS);
  });

  it("cuts a clause with no boundary at the word limit without leaving a fragment shorter than the minimum", () => {
    const n = FIRST_PIECE_WORDS + 2;
    const text = Array.from({ length: n }, (_, i) => `w${i}`).join(" ");
    const pieces = splitForSynthesis(text);
    expect(pieces.length).toBe(2);
    expect(words(pieces[0]).length).toBeLessThanOrEqual(FIRST_PIECE_WORDS);
    for (const p of pieces) expect(words(p).length).toBeGreaterThanOrEqual(MIN_PIECE_WORDS);
    expect(pieces.join(" ")).toBe(text);
  });

  it("does not make a short piece from a conjunction near the start", () => {
    const pieces = splitForSynthesis("cats and dogs were running through the long green grass today");
    for (const p of pieces) expect(words(p).length).toBeGreaterThanOrEqual(MIN_PIECE_WORDS);
    expect(words(pieces[0]).length).toBeLessThanOrEqual(FIRST_PIECE_WORDS);
  });

  it("drops control characters and pieces without letters or digits", () => {
    expect(splitForSynthesis("\u0007 ... Hi\u0000 there. !!")).toEqual(["Hi there."]);
    expect(splitForSynthesis("  \n\t ")).toEqual([]);
  });

  it("keeps every word of a long text, in order, within the limits", () => {
    const text = Array.from({ length: 40 }, (_, i) => `word${i}${i % 7 === 6 ? "," : ""}${i % 13 === 12 ? " and" : ""}`).join(" ") + ".";
    const pieces = splitForSynthesis(text);
    expect(pieces.join(" ")).toBe(text);
    expect(words(pieces[0]).length).toBeLessThanOrEqual(FIRST_PIECE_WORDS);
    for (const p of pieces) {
      expect(words(p).length).toBeLessThanOrEqual(MAX_PIECE_WORDS);
      expect(words(p).length).toBeGreaterThanOrEqual(MIN_PIECE_WORDS);
    }
  });
});
