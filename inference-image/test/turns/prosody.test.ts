/** Frame acoustics: level in dBFS and the pitch of voiced frames, as the end-of-turn detector reads them. */
import { ProsodyTracker } from "../../src/turns/prosody";

const RATE = 16000;
const FRAME = 512;

/** A voice-like buzz: harmonics of f0 falling off as 1/h, peak amplitude about `amp`. */
function buzz(f0: number, seconds: number, amp = 0.3): Float32Array {
  const out = new Float32Array(Math.round(seconds * RATE));
  for (let i = 0; i < out.length; i++) {
    let s = 0;
    for (let h = 1; h * f0 < 3500; h++) s += Math.sin((2 * Math.PI * f0 * h * i) / RATE) / h;
    out[i] = (amp * s) / 2;
  }
  return out;
}

function frames(samples: Float32Array, tracker = new ProsodyTracker(RATE)) {
  const out = [];
  for (let at = 0; at + FRAME <= samples.length; at += FRAME) out.push(tracker.frame(samples.subarray(at, at + FRAME)));
  return out;
}

const semitones = (a: number, b: number) => Math.abs(12 * Math.log2(a / b));

it.each([70, 100, 140, 220, 330])("finds the pitch of a %d Hz voice within a quarter semitone", (f0) => {
  const measured = frames(buzz(f0, 0.5)).slice(2);
  expect(measured.length).toBeGreaterThan(10);
  for (const m of measured) expect(semitones(m.f0, f0)).toBeLessThan(0.25);
});

it("follows a falling voice frame by frame", () => {
  const tracker = new ProsodyTracker(RATE);
  const heard = [200, 180, 160, 140, 120].map((f0) => frames(buzz(f0, 0.2), tracker).at(-1)!.f0);
  for (let i = 1; i < heard.length; i++) expect(heard[i]).toBeLessThan(heard[i - 1]);
});

it("says unvoiced for noise and silence, and measures levels in dBFS", () => {
  let seed = 1;
  const noise = Float32Array.from({ length: RATE / 2 }, () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return (seed / 2 ** 31 - 0.5) * 0.2;
  });
  expect(frames(noise).every((m) => m.f0 === 0)).toBe(true);
  const quiet = frames(new Float32Array(RATE / 4));
  expect(quiet.every((m) => m.f0 === 0 && m.energyDb === -100)).toBe(true);
  const sine = Float32Array.from({ length: RATE / 4 }, (_, i) => Math.sin((2 * Math.PI * 1000 * i) / RATE));
  for (const m of frames(sine)) expect(m.energyDb).toBeCloseTo(-3.01, 1);
});

it("works at 8 kHz (telephony) and 48 kHz input", () => {
  for (const rate of [8000, 48000]) {
    const tracker = new ProsodyTracker(rate);
    const n = Math.round((FRAME * rate) / RATE);
    const signal = Float32Array.from({ length: rate / 2 }, (_, i) => Math.sin((2 * Math.PI * 150 * i) / rate) + 0.5 * Math.sin((2 * Math.PI * 300 * i) / rate));
    const measured = [];
    for (let at = 0; at + n <= signal.length; at += n) measured.push(tracker.frame(signal.subarray(at, at + n)));
    expect(semitones(measured.at(-1)!.f0, 150)).toBeLessThan(0.25);
  }
});
