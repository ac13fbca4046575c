/**
 * CI regression gate on the real-speech set (eval/real-speech): the upload routes' pooled WER may not rise
 * above the committed figure (real-speech/baseline.json, written by `npm run eval:wer -- --write-baseline`)
 * plus MARGIN. Uploads are deterministic, so the gate also checks that the two wideband routes, run in
 * opposite orders over two workers, return the same text for every clip.
 * Budget: ~250 s of audio decoded three times with the batch search settings; a few minutes on 2 busy cores.
 */
import fs from "node:fs";
import path from "node:path";
import { loadRealSpeechSet, REAL_SPEECH_DIR, type RealSpeechSet } from "../../eval/real-speech";
import { transcribeAll, type Route } from "../../eval/routes";
import { countErrors, summarize } from "../../eval/wer";
import { KEY, startServer, type Started } from "../server/helpers";

jest.setTimeout(20 * 60_000);

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

test("wideband uploads: WER within the committed figure, the same text on both routes in either order", async () => {
  const target = { base: s.base, key: KEY };
  const openai = await transcribeAll("openai-upload", target, set.clips, 2);
  const reversed = [...set.clips].reverse();
  const deepgram = (await transcribeAll("deepgram-upload", target, reversed, 2)).reverse();
  expect(set.clips.map((c, i) => ({ id: c.id, text: deepgram[i] }))).toEqual(set.clips.map((c, i) => ({ id: c.id, text: openai[i] })));
  expect(pooled(openai)).toBeLessThanOrEqual(baseline["openai-upload"] + MARGIN);
  expect(pooled(deepgram)).toBeLessThanOrEqual(baseline["deepgram-upload"] + MARGIN);
});

test("8 kHz mu-law uploads: WER within the committed figure", async () => {
  const texts = await transcribeAll("telephony-upload", { base: s.base, key: KEY }, set.clips, 2);
  expect(pooled(texts)).toBeLessThanOrEqual(baseline["telephony-upload"] + MARGIN);
});
