/**
 * CI regression gate on the real-speech set (eval/real-speech): the upload routes' pooled WER may not rise
 * above the committed figure (real-speech/baseline.json, written by `npm run eval:wer -- --write-baseline`)
 * plus MARGIN. Uploads are deterministic, so the gate also checks that the two wideband routes, run in
 * opposite orders over two workers, return the same text for every clip.
 * Budget: each test decodes the 252 s of audio once with the batch search settings over two workers: about a
 * minute alone on 2 cores (estimated from its CPU time: 0.24-0.35 s per audio second), 15 minutes measured
 * while the machine ran at load average 17.
 */
import fs from "node:fs";
import path from "node:path";
import { loadRealSpeechSet, REAL_SPEECH_DIR, type RealSpeechSet } from "../../eval/real-speech";
import { transcribeAll, type Route } from "../../eval/routes";
import { countErrors, summarize } from "../../eval/wer";
import { KEY, startServer, type Started } from "../server/helpers";

jest.setTimeout(30 * 60_000);

/** About one word in 150: room for nothing but a real change. */
const MARGIN = 0.01;
const baseline = JSON.parse(fs.readFileSync(path.join(REAL_SPEECH_DIR, "baseline.json"), "utf8")) as Record<Route, number>;

let s: Started;
let set: RealSpeechSet;

beforeAll(async () => {
  set = await loadRealSpeechSet();
  s = await startServer({ workers: 2, batchWorkers: 2 });
});

afterAll(() => s?.stop());

const pooled = (texts: string[]) => summarize(set.clips.map((c, i) => countErrors(c.reference, texts[i]))).pooled;

let openai: string[];

test("OpenAI upload route: WER within the committed figure", async () => {
  openai = await transcribeAll("openai-upload", { base: s.base, key: KEY }, set.clips, 2);
  expect(pooled(openai)).toBeLessThanOrEqual(baseline["openai-upload"] + MARGIN);
});

test("Deepgram upload route, clips in reverse order: WER within the committed figure, the same text per clip as the OpenAI route", async () => {
  const reversed = [...set.clips].reverse();
  const deepgram = (await transcribeAll("deepgram-upload", { base: s.base, key: KEY }, reversed, 2)).reverse();
  expect(pooled(deepgram)).toBeLessThanOrEqual(baseline["deepgram-upload"] + MARGIN);
  expect(openai).toBeDefined();
  expect(set.clips.map((c, i) => ({ id: c.id, text: deepgram[i] }))).toEqual(set.clips.map((c, i) => ({ id: c.id, text: openai[i] })));
});

test("8 kHz mu-law uploads: WER within the committed figure", async () => {
  const texts = await transcribeAll("telephony-upload", { base: s.base, key: KEY }, set.clips, 2);
  expect(pooled(texts)).toBeLessThanOrEqual(baseline["telephony-upload"] + MARGIN);
});
