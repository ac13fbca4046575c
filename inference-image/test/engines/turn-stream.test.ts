/** Turn by turn transcription: one turn spans its pauses, ends on the detector's confidence or the timeout, and eager ends and resumptions follow Flux's rules. */
import { parseEngineConfig } from "../../src/engines/config";
import type { UtteranceDecoder } from "../../src/engines/engine";
import { type Engines, loadEngines } from "../../src/engines/load";
import { type TurnEvent, type TurnOptions, TurnStream } from "../../src/engines/turn-stream";
import { SpeechDetector, VAD_FOR_TURNS } from "../../src/engines/vad";
import { concat, silence, toFloat, wordErrorRate } from "./helpers";

jest.setTimeout(120_000);

let engines: Engines;
let decoder: UtteranceDecoder;
let vad: SpeechDetector;

beforeAll(() => {
  engines = loadEngines(parseEngineConfig({ stt: { engine: "pocketsphinx" }, tts: { engine: "flite" }, workers: 1 }));
  decoder = engines.stt.createDecoder();
  vad = new SpeechDetector(engines.vadModel, 16000, VAD_FOR_TURNS);
});

afterAll(() => decoder?.free());

const say = (text: string) => toFloat(engines.tts!.synthesize(text, "slt", 1));

/** Stream audio in 20 ms chunks, as a client sends it. */
function stream(audio: Float32Array, options: Partial<TurnOptions> = {}): TurnEvent[] {
  vad.reset();
  const s = new TurnStream(decoder, vad, 16000, "en", options);
  const events: TurnEvent[] = [];
  for (let at = 0; at < audio.length; at += 320) events.push(...s.push(audio.subarray(at, at + 320)));
  events.push(...s.finish());
  s.close();
  return events;
}

const text = (e: TurnEvent) => ("transcript" in e ? e.transcript.text : "");

/** Seconds into a clip of its last sound (Flite's clips end with a short silence). */
function lastSound(clip: Float32Array): number {
  let i = clip.length - 1;
  while (i > 0 && Math.abs(clip[i]) < 0.01) i--;
  return (i + 1) / 16000;
}

it("a finished sentence: the turn starts, updates, and ends soon after the voice stops", () => {
  const sentence = "please call me back tomorrow morning";
  const spoken = say(sentence);
  const events = stream(concat(silence(0.5), spoken, silence(6)));
  const kinds = events.map((e) => e.kind);
  expect(kinds[0]).toBe("turn-start");
  expect(kinds.filter((k) => k === "turn-end")).toHaveLength(1);
  expect(kinds).toContain("turn-update");
  const end = events.find((e) => e.kind === "turn-end")!;
  expect(wordErrorRate(sentence, text(end))).toBeLessThanOrEqual(0.34);
  const voiceStops = 0.5 + lastSound(spoken);
  // Within the timeout's 5 s: the detector ended it, not the timeout (its confidence is in the event).
  expect(end.at - voiceStops).toBeLessThan(2);
  expect(end.kind === "turn-end" && end.confidence).toBeGreaterThanOrEqual(0.7);
  // Words carry stream times.
  expect(end.kind === "turn-end" && end.transcript.words[0].start).toBeGreaterThan(0.3);
});

it("with eot_threshold out of reach, the pause ends the turn after eot_timeout_ms", () => {
  const spoken = say("I would like to book a table");
  const events = stream(concat(silence(0.5), spoken, silence(3)), { eotThreshold: 1.01, eotTimeoutMs: 1500 });
  const end = events.find((e) => e.kind === "turn-end")!;
  const voiceStops = 0.5 + lastSound(spoken);
  // The pause is dated from the last loud frame: within a frame (32 ms) of the last sound.
  expect(end.at - voiceStops).toBeGreaterThanOrEqual(1.5 - 0.04);
  expect(end.at - voiceStops).toBeLessThan(1.6);
});

it("one turn spans a pause the detector does not end it at, and its words are decoded together", () => {
  const a = say("my number is five five five");
  const b = say("one two three four");
  const events = stream(concat(silence(0.5), a, silence(0.9), b, silence(3)), { eotThreshold: 1.01, eotTimeoutMs: 2000 });
  const ends = events.filter((e) => e.kind === "turn-end");
  expect(ends).toHaveLength(1);
  expect(wordErrorRate("my number is five five five one two three four", text(ends[0]))).toBeLessThanOrEqual(0.34);
  expect(events.filter((e) => e.kind === "turn-start")).toHaveLength(1);
});

it("eager end, then speech resumes: TurnResumed, and the turn's end carries the words after it", () => {
  const a = say("I want to book a table");
  const b = say("for two people");
  // Eager at a confidence the first pause reaches; the end itself out of reach until the timeout.
  const events = stream(concat(silence(0.5), a, silence(1.2), b, silence(3)), { eagerThreshold: 0.01, eotThreshold: 1.01, eotTimeoutMs: 2000 });
  const kinds = events.filter((e) => e.kind !== "turn-update").map((e) => e.kind);
  expect(kinds).toEqual(["turn-start", "eager-end", "turn-resumed", "eager-end", "turn-end"]);
  const lastEager = events.filter((e) => e.kind === "eager-end").at(-1)!;
  const end = events.find((e) => e.kind === "turn-end")!;
  // No TurnResumed after the last eager end: EndOfTurn repeats its transcript exactly.
  expect(text(end)).toBe(text(lastEager));
  expect(text(end)).toMatch(/two|people/);
});

it("configure() changes the thresholds mid-stream", () => {
  const spoken = say("thank you very much");
  vad.reset();
  const s = new TurnStream(decoder, vad, 16000, "en", { eotThreshold: 1.01, eotTimeoutMs: 60_000 });
  const audio = concat(silence(0.5), spoken, silence(4));
  const events: TurnEvent[] = [];
  const half = Math.round((0.5 + spoken.length / 16000 + 0.1) * 16000);
  events.push(...s.push(audio.subarray(0, half)));
  s.configure({ eotTimeoutMs: 1000 });
  events.push(...s.push(audio.subarray(half)));
  s.close();
  expect(events.filter((e) => e.kind === "turn-end")).toHaveLength(1);
});
