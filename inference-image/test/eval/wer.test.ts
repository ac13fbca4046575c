/** The WER the evaluation reports: normalisation, edit counts, pooling, term recall. */
import { countErrors, normalizeWords, summarize, termRecall, wordErrorRate } from "../../eval/wer";

test("normalisation: case, punctuation, hyphens, numbers and titles written as the engines write them", () => {
  expect(normalizeWords("Please press 1, then Call-Forward on Busy!")).toEqual(["please", "press", "one", "then", "call", "forward", "on", "busy"]);
  expect(normalizeWords("a 28.8 kilobit modem, dial 500")).toEqual(["a", "twenty", "eight", "point", "eight", "kilobit", "modem", "dial", "five", "hundred"]);
  expect(normalizeWords("Mr. Dashwood's 'party' isn't")).toEqual(["mister", "dashwood's", "party", "isn't"]);
});

test("errors are substitutions, deletions and insertions over the reference's words", () => {
  expect(countErrors("go forward ten meters", "go forward ten meters")).toEqual({ errors: 0, referenceWords: 4 });
  expect(countErrors("go forward ten meters", "go for word ten")).toEqual({ errors: 3, referenceWords: 4 });
  expect(countErrors("press 1 now", "press one")).toEqual({ errors: 1, referenceWords: 3 });
  expect(wordErrorRate("ten of clubs", "")).toBe(1);
  expect(wordErrorRate("", "noise")).toBe(1);
  expect(wordErrorRate("", "")).toBe(0);
});

test("pooled WER weighs clips by length, the mean weighs them alike", () => {
  const s = summarize([countErrors("one two three four five six seven eight nine ten", "one two three four five six seven eight nine ten"), countErrors("hello", "yellow")]);
  expect(s.pooled).toBeCloseTo(1 / 11);
  expect(s.mean).toBeCloseTo(0.5);
  expect(s).toMatchObject({ clips: 2, words: 11 });
});

test("term recall counts each reference occurrence found at most once", () => {
  const r = termRecall(["PBX", "Digium"], [
    { reference: "the Asterisk PBX at Digium", hypothesis: "the asterisk pbx at the gym" },
    { reference: "a PBX is a PBX", hypothesis: "a pbx pbx pbx" },
  ]);
  expect(r).toEqual({ found: 3, occurrences: 4, recall: 0.75 });
});
