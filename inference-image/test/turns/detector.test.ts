/** The end-of-turn detector's mechanics (pause timing, the speaker's own pauses, prosody at the end) and the fitted model's direction. */
import { EndOfTurnDetector, type EotModel, FEATURES, loadModel } from "../../src/turns/detector";

const FRAME_S = 0.032;
const zeros = () => FEATURES.map(() => 0);
/** A model that reads only the named cues (weights on raw values). */
function model(weights: Partial<Record<(typeof FEATURES)[number], number>>, bias = 0, pauseSigma = 0.5): EotModel {
  return { features: [...FEATURES], mean: zeros(), scale: FEATURES.map(() => 1), weights: FEATURES.map((f) => weights[f] ?? 0), bias, pauseSigma };
}

const SPEECH = { energyDb: -20, f0: 150 };
const QUIET = { energyDb: -60, f0: 0 };

/** Feed `n` frames of the same acoustics and VAD decision. */
function feed(d: EndOfTurnDetector, n: number, acoustics: { energyDb: number; f0: number }, speech: boolean): void {
  for (let i = 0; i < n; i++) d.frame(acoustics, speech);
}

/** Noise floor, then a second of speech. */
function speak(d: EndOfTurnDetector, seconds = 1): void {
  feed(d, 40, QUIET, false);
  feed(d, Math.round(seconds / FRAME_S), SPEECH, true);
}

it("is silent while the speaker talks, and its confidence grows with the pause towards 1", () => {
  const d = new EndOfTurnDetector(FRAME_S, model({}, -2));
  speak(d);
  expect(d.confidence("please cancel the order")).toBe(0);
  const seen: number[] = [];
  for (let i = 0; i < 100; i++) {
    d.frame(QUIET, false);
    seen.push(d.confidence("please cancel the order"));
  }
  for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]);
  // At the start, the cues' odds (here e^-2); after 3 s, five times the usual 0.6 s pause, near certainty.
  expect(seen[0]).toBeCloseTo(1 / (1 + Math.exp(2)), 2);
  expect(seen.at(-1)!).toBeGreaterThan(0.99);
});

it("dates a pause from the last loud frame, not from when the VAD let go", () => {
  const d = new EndOfTurnDetector(FRAME_S, model({}));
  speak(d);
  // The voice stops; the VAD still says speech for five more frames (its release), then lets go.
  feed(d, 5, QUIET, true);
  d.frame(QUIET, false);
  expect(d.pauseS).toBeCloseTo(6 * FRAME_S, 5);
});

it("judges a pause against the speaker's own pauses inside turns", () => {
  const after = (pauses: number) => {
    const d = new EndOfTurnDetector(FRAME_S, model({}));
    speak(d);
    for (let i = 0; i < 4; i++) {
      feed(d, pauses, QUIET, false);
      feed(d, 10, SPEECH, true);
    }
    feed(d, 15, QUIET, false);
    return { typical: d.pause("and")!.typicalPauseS, confidence: d.confidence("and") };
  };
  const quick = after(6);
  const slow = after(40);
  // Four pauses of ~0.2 s (or ~1.3 s) outweigh the prior's two of 0.6 s.
  expect(quick.typical).toBeCloseTo(6 * FRAME_S, 2);
  expect(slow.typical).toBeCloseTo(40 * FRAME_S, 2);
  // The same half-second pause is long for the first speaker and short for the second.
  expect(quick.confidence).toBeGreaterThan(0.9);
  expect(slow.confidence).toBeLessThan(0.6);
});

it("measures the pitch and level at the end of the speech before a pause", () => {
  const ending = (f0s: number[], levels: number[]) => {
    const d = new EndOfTurnDetector(FRAME_S, model({}));
    speak(d);
    f0s.forEach((f0, i) => d.frame({ energyDb: levels[i], f0 }, true));
    d.frame(QUIET, false);
    return d.pause("")!.cues;
  };
  const falling = ending([150, 140, 130, 120, 110, 100, 90, 80], [-20, -21, -22, -23, -24, -25, -26, -28]);
  expect(falling.pitchSlope).toBeLessThan(-1);
  expect(falling.pitchEnd).toBeLessThan(-5);
  expect(falling.energyEnd).toBeLessThan(-2);
  const rising = ending([150, 160, 170, 180, 190, 200, 210, 220], [-20, -20, -20, -20, -20, -20, -20, -20]);
  expect(rising.pitchSlope).toBeGreaterThan(1);
  expect(rising.pitchEnd).toBeGreaterThan(3);
  // No voiced frame before the pause: pitch features are unknown (the model then counts them as average).
  const whispered = ending([0, 0, 0, 0, 0, 0, 0, 0], [-20, -20, -20, -20, -20, -20, -20, -20]);
  expect(Number.isNaN(whispered.pitchSlope)).toBe(true);
});

it("holds back while the voice comes back, before the VAD is sure of it, and dates the pause's end there", () => {
  const d = new EndOfTurnDetector(FRAME_S, model({}));
  speak(d);
  for (let i = 0; i < 4; i++) {
    feed(d, 10, QUIET, false);
    expect(d.confidence("yes")).toBeGreaterThan(0);
    // The voice is back (a fricative's dip between loud frames included); the VAD confirms 8 frames later.
    feed(d, 3, SPEECH, false);
    expect(d.confidence("yes")).toBe(0);
    d.frame(QUIET, false);
    expect(d.confidence("yes")).toBe(0);
    feed(d, 4, SPEECH, false);
    feed(d, 10, SPEECH, true);
  }
  feed(d, 2, QUIET, false);
  // Four pauses of 10 frames, not 18: the speaker's usual pause is what they paused.
  expect(d.pause("")!.typicalPauseS).toBeCloseTo(10 * FRAME_S, 5);
});

it("a click in a pause holds the decision only until it is clearly not the voice", () => {
  const d = new EndOfTurnDetector(FRAME_S, model({}));
  speak(d);
  feed(d, 10, QUIET, false);
  d.frame(SPEECH, false);
  feed(d, 5, QUIET, false);
  expect(d.confidence("yes")).toBe(0);
  feed(d, 5, QUIET, false);
  // The pause goes on from where it began.
  expect(d.confidence("yes")).toBeGreaterThan(0);
  expect(d.pauseS).toBeCloseTo(21 * FRAME_S, 5);
});

it("starts each turn afresh but keeps the speaker's habits", () => {
  const d = new EndOfTurnDetector(FRAME_S, model({}));
  speak(d);
  feed(d, 20, QUIET, false);
  feed(d, 10, SPEECH, true);
  feed(d, 5, QUIET, false);
  const before = d.pause("")!.typicalPauseS;
  d.endTurn();
  expect(d.pause("")).toBeUndefined();
  feed(d, 10, SPEECH, true);
  feed(d, 5, QUIET, false);
  expect(d.pause("")!.typicalPauseS).toBeCloseTo(before, 5);
});

it("speech soon after a turn's end goes on with that turn; later speech starts a new one", () => {
  const after = (gapFrames: number) => {
    const d = new EndOfTurnDetector(FRAME_S, model({}));
    speak(d);
    feed(d, 8, QUIET, false);
    d.endTurn();
    feed(d, gapFrames, QUIET, false);
    feed(d, 10, { energyDb: -20, f0: 300 }, true);
    feed(d, 2, QUIET, false);
    return { continues: d.continuesEndedTurn, pitchEnd: d.pause("")!.cues.pitchEnd };
  };
  const soon = after(10);
  const later = after(60);
  expect(soon.continues).toBe(true);
  expect(later.continues).toBe(false);
  // Ending at 300 Hz: high against a turn that began at 150 Hz, level in a turn of its own.
  expect(soon.pitchEnd).toBeGreaterThan(5);
  expect(Math.abs(later.pitchEnd)).toBeLessThan(0.5);
});

it("refuses a model file that does not match its features", () => {
  expect(() => loadModel({ ...model({}), features: ["continuation"] })).toThrow(/must have the features continuation, filler/);
  expect(() => loadModel({ ...model({}), weights: [NaN, ...zeros().slice(1)] })).toThrow(/finite/);
  expect(() => loadModel({ ...model({}), pauseSigma: 0 })).toThrow(/positive pauseSigma/);
});

it("with the fitted model: a trailing conjunction or preposition, and a rising end, lower the confidence", () => {
  const at = (hypothesis: string, f0s: number[]) => {
    const d = new EndOfTurnDetector(FRAME_S);
    speak(d);
    for (const f0 of f0s) d.frame({ energyDb: -20, f0 }, true);
    feed(d, 8, QUIET, false);
    return d.confidence(hypothesis);
  };
  const level = [150, 150, 150, 150, 150, 150, 150, 150];
  expect(at("I want to", level)).toBeLessThan(at("I want it", level));
  expect(at("bread and", level)).toBeLessThan(at("bread", level));
  expect(at("that sounds good", [150, 145, 140, 135, 130, 120, 110, 100])).toBeGreaterThan(at("that sounds good", [150, 150, 150, 150, 150, 150, 160, 170]));
});
