/** What the words so far say about whether a turn is finished. */
import { lexicalCues } from "../../src/turns/lexical";

it("hears a clause left open by its last word", () => {
  for (const text of ["I want to", "bread milk and", "we are looking for a hotel near the", "I was calling about my", "I think it would"]) {
    expect(lexicalCues(text).continuation).toBe(true);
  }
  for (const text of ["please cancel the order", "no thanks", "that sounds good", "what time do you close", ""]) {
    expect(lexicalCues(text).continuation).toBe(false);
  }
});

it("hears a hesitation", () => {
  expect(lexicalCues("I want to um").filler).toBe(true);
  expect(lexicalCues("send me the uh").filler).toBe(true);
  expect(lexicalCues("umbrella").filler).toBe(false);
});

it("hears a number that is still being dictated", () => {
  expect(lexicalCues("my number is five five five").numberIncomplete).toBe(true);
  expect(lexicalCues("my number is five five five one two three four").numberIncomplete).toBe(false);
  expect(lexicalCues("my zip code is nine four one").numberIncomplete).toBe(true);
  expect(lexicalCues("my zip code is nine four one zero three").numberIncomplete).toBe(false);
  expect(lexicalCues("my card ends in three nine").numberIncomplete).toBe(true);
  // Digits with no number announced before them: no expectation of a length.
  expect(lexicalCues("I want two").numberIncomplete).toBe(false);
  expect(lexicalCues("table for two").numberIncomplete).toBe(false);
});

it("counts words, ignoring case and punctuation", () => {
  expect(lexicalCues("Yes, I'd like THAT.").words).toBe(4);
});
