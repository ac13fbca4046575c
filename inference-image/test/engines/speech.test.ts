/** The built-in engines end to end through the worker pool: Flite speaks, pocketsphinx transcribes it. */
import { createSpeech, parseEngineConfig } from "../../src/engines";
import { EngineInputError, type Speech } from "../../src/engines/types";
import { SENTENCES, synthesizeAll, toFloat, wordErrorRate } from "./helpers";

jest.setTimeout(120_000);

let speech: Speech;

beforeAll(async () => {
  speech = await createSpeech(parseEngineConfig({ stt: { engine: "pocketsphinx" }, tts: { engine: "flite" }, workers: 2, streamsPerWorker: 2 }));
});

afterAll(async () => {
  await speech?.close();
});

test("reports its models and is ready once the workers have loaded", () => {
  expect(speech.ready).toBe(true);
  expect(speech.stt).toMatchObject({ kind: "stt", engine: "pocketsphinx", sampleRate: 16000, languages: ["en"] });
  expect(speech.tts).toMatchObject({ kind: "tts", engine: "flite", sampleRate: 16000 });
  expect(speech.tts.voices).toEqual(expect.arrayContaining(["slt", "rms", "awb", "kal", "kal16"]));
  // Two realtime workers (two stream slots each) and two batch workers.
  expect(speech.stats()).toMatchObject({ queueDepth: 0, busyWorkers: 0, workers: 4 });
  expect(speech.stats().lanes.map((l) => `${l.lane}: ${l.inflight}/${l.capacity}`)).toEqual(["live: 0/4", "batch: 0/2"]);
});

test("transcribes Flite-synthesized sentences with word error <= 25%", async () => {
  const results = await Promise.all(
    SENTENCES.slice(0, 4).map(async (sentence) => {
      const audio = toFloat(await synthesizeAll(speech, sentence));
      const t = await speech.transcribe(audio, { language: "en-US" });
      return { sentence, t, wer: wordErrorRate(sentence, t.text) };
    }),
  );
  for (const { sentence, t, wer } of results) {
    expect(wer).toBeLessThanOrEqual(0.25);
    expect(t.language).toBe("en");
    expect(t.words.length).toBeGreaterThan(sentence.split(" ").length / 2);
    expect(t.confidence).toBeGreaterThan(0);
    expect(t.confidence).toBeLessThanOrEqual(1);
    // Word timings are increasing and inside the clip.
    for (let i = 1; i < t.words.length; i++) expect(t.words[i].start).toBeGreaterThanOrEqual(t.words[i - 1].end - 0.011);
    expect(t.words[t.words.length - 1].end).toBeLessThanOrEqual(t.durationS + 0.02);
  }
});

test("synthesis yields 16-bit chunks as each sentence is done, in every voice and speed", async () => {
  const chunks: Int16Array[] = [];
  for await (const c of speech.synthesize("First sentence here. And here is the second one! A third?", { voice: "kal" })) chunks.push(c);
  expect(chunks).toHaveLength(3);
  for (const c of chunks) expect(c.length).toBeGreaterThan(16000 * 0.4);
  const normal = (await synthesizeAll(speech, "Speaking at normal speed", "alloy")).length;
  const chunksFast: Int16Array[] = [];
  for await (const c of speech.synthesize("Speaking at normal speed", { voice: "alloy", speed: 2 })) chunksFast.push(c);
  const fast = chunksFast.reduce((n, c) => n + c.length, 0);
  expect(fast / normal).toBeGreaterThan(0.35);
  expect(fast / normal).toBeLessThan(0.7);
});

test("bad input is an EngineInputError", async () => {
  const first = (it: AsyncIterable<Int16Array>) => it[Symbol.asyncIterator]().next();
  await expect(first(speech.synthesize("hello", { voice: "nosuchvoice" }))).rejects.toBeInstanceOf(EngineInputError);
  await expect(first(speech.synthesize("hello", { speed: 9 }))).rejects.toBeInstanceOf(EngineInputError);
  await expect(first(speech.synthesize("  ...  "))).rejects.toBeInstanceOf(EngineInputError);
  await expect(speech.transcribe(new Float32Array(1600), { language: "fr" })).rejects.toBeInstanceOf(EngineInputError);
  // Aura names are accepted whatever the voice part, since Deepgram clients put the voice in the model name.
  await expect(first(speech.synthesize("hello", { voice: "aura-2-thalia-en" }))).resolves.toMatchObject({ done: false });
});
