/**
 * Custom vocabulary at the engine level (issue 25): words the dictionary lacks get pronunciations and are
 * recognised on real recordings, in batch and live (at open and by configure, from the next utterance).
 */
import path from "node:path";
import { createSpeech, parseEngineConfig } from "../../src/engines";
import { DEFAULT_POCKETSPHINX_MODEL_DIR } from "../../src/engines/config";
import { Pronouncer } from "../../src/engines/pronounce";
import { MAX_VOCABULARY_TERMS, type Speech, type StreamEvent } from "../../src/engines/types";
import { LIVE_DEFAULTS } from "../../src/params/deepgram-listen";
import { loadRealSpeechSet, type Clip } from "../../eval/real-speech";
import { normalizeWords } from "../../eval/wer";

// Each vocabulary decoder loads the model (about a second alone); a few short clips are decoded.
jest.setTimeout(600_000);

let speech: Speech;
const clip: Record<string, Clip> = {};

beforeAll(async () => {
  for (const c of (await loadRealSpeechSet({ only: ["asterisk/spy-dahdi", "asterisk/spy-unistim", "asterisk/demo-thanks"] })).clips) clip[c.id] = c;
  speech = await createSpeech(parseEngineConfig({ stt: { engine: "pocketsphinx" }, tts: { engine: "flite" }, workers: 1, batchWorkers: 1, streamsPerWorker: 1 }));
});

afterAll(() => speech?.close());

const words = (text: string) => normalizeWords(text);

test("pronunciations: the dictionary's own, Flite's letter-to-sound for new words, letters for a short acronym", () => {
  const p = new Pronouncer(path.join(DEFAULT_POCKETSPHINX_MODEL_DIR, "cmudict-en-us.dict"));
  expect(p.pronounce("clubs")).toEqual(["K L AH B Z"]);
  expect(p.pronounce("Digium")).toEqual(["D IH JH IY AH M"]);
  expect(p.pronounce("IAX")).toEqual(["IY AE K S", "AY EY EH K S"]);
  expect(p.has("unmute")).toBe(false);
});

test("batch: listed terms the dictionary lacks are recognised, and only for the request that lists them", async () => {
  const samples = clip["asterisk/spy-unistim"].samples;
  const without = words((await speech.transcribe(samples)).text);
  expect(without).not.toContain("unistim");
  expect(words((await speech.transcribe(samples, { vocabulary: { terms: ["Unistim", "DAHDI"] } })).text)).toContain("unistim");
  // The same terms in another order reuse the decoder made for them; a request without terms never sees them.
  expect(words((await speech.transcribe(samples, { vocabulary: { terms: ["DAHDI", "Unistim"] } })).text)).toContain("unistim");
  expect(words((await speech.transcribe(samples)).text)).toEqual(without);
  await expect(speech.transcribe(samples, { vocabulary: { terms: Array.from({ length: MAX_VOCABULARY_TERMS + 1 }, (_, i) => `term${i}`) } })).rejects.toThrow(/at most 100 vocabulary terms/);
});

async function live(samples: Float32Array, open: { vocabulary?: { terms: string[] } }, configureAfter?: { terms: string[] }): Promise<string[]> {
  const session = await speech.openStream({ ...open, live: { ...LIVE_DEFAULTS, endpointing: 300 } });
  const finals: string[] = [];
  const collect = (events: StreamEvent[]) => events.forEach((e) => e.kind === "result" && e.isFinal && e.transcript.text && finals.push(e.transcript.text));
  const gap = new Float32Array(16000);
  for (const part of [gap, samples, gap]) for (let at = 0; at < part.length; at += 320) collect(await session.push(part.subarray(at, at + 320)));
  if (configureAfter) {
    await session.configure({ vocabulary: configureAfter });
    for (const part of [samples, gap]) for (let at = 0; at < part.length; at += 320) collect(await session.push(part.subarray(at, at + 320)));
  }
  collect(await session.finalize());
  await session.close();
  return finals;
}

test("live: terms given at open, and by configure for the next utterance", async () => {
  const samples = clip["asterisk/demo-thanks"].samples;
  expect(words((await live(samples, {})).join(" "))).not.toContain("pbx");
  expect(words((await live(samples, { vocabulary: { terms: ["PBX"] } })).join(" "))).toContain("pbx");
  const [first, ...after] = await live(samples, {}, { terms: ["PBX"] });
  expect(words(first)).not.toContain("pbx");
  expect(words(after.join(" "))).toContain("pbx");
});
