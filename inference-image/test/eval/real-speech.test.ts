/**
 * CI regression gate on the real-speech set (eval/real-speech), on its gate clips (GATE_CLIPS: every source and
 * speaker, 36 s of the 252 s; the whole set is `npm run eval:wer`): the upload routes' pooled WER over those clips
 * may not rise above the committed figure (real-speech/baseline.json "gate", written from a whole-set run by
 * `npm run eval:wer -- --write-baseline`) plus one word. Uploads are deterministic, so the gate also checks that the
 * two wideband routes, run in opposite orders over two workers, return the same text for every clip.
 * Budget: three passes over 36 s of audio with the batch search settings: about 45 s of CPU (0.34, 0.37 and 0.54 CPU s
 * per audio second on the three routes), so under a minute alone on 2 cores; 249 s measured at load average 16-18
 * (the whole set took 21 minutes there).
 */
import fs from "node:fs";
import path from "node:path";
import { GATE_CLIPS, loadRealSpeechSet, REAL_SPEECH_DIR, type RealSpeechSet } from "../../eval/real-speech";
import { transcribeAll } from "../../eval/routes";
import { countErrors, normalizeWords, summarize } from "../../eval/wer";
import type { Baseline } from "../../eval/wer-report";
import { KEY, startServer, type Started } from "../server/helpers";

jest.setTimeout(5 * 60_000);

const baseline = (JSON.parse(fs.readFileSync(path.join(REAL_SPEECH_DIR, "baseline.json"), "utf8")) as Baseline).gate;

let s: Started;
let set: RealSpeechSet;

beforeAll(async () => {
  set = await loadRealSpeechSet({ only: GATE_CLIPS });
  s = await startServer({ workers: 2, batchWorkers: 2 });
});

afterAll(() => s?.stop());

/** Room for one word more than the committed figure (the gate clips hold 81 reference words), and nothing else. */
const margin = () => 1 / set.clips.reduce((n, c) => n + normalizeWords(c.reference).length, 0);
const pooled = (texts: string[]) => summarize(set.clips.map((c, i) => countErrors(c.reference, texts[i]))).pooled;

test("the gate's clips are in the set", () => {
  expect(set.clips.map((c) => c.id).sort()).toEqual([...GATE_CLIPS].sort());
});

let openai: string[];

test("OpenAI upload route: WER within the committed figure", async () => {
  openai = await transcribeAll("openai-upload", { base: s.base, key: KEY }, set.clips, 2);
  expect(pooled(openai)).toBeLessThanOrEqual(baseline["openai-upload"]! + margin());
});

test("Deepgram upload route, clips in reverse order: WER within the committed figure, the same text per clip as the OpenAI route", async () => {
  const reversed = [...set.clips].reverse();
  const deepgram = (await transcribeAll("deepgram-upload", { base: s.base, key: KEY }, reversed, 2)).reverse();
  expect(pooled(deepgram)).toBeLessThanOrEqual(baseline["deepgram-upload"]! + margin());
  expect(openai).toBeDefined();
  expect(set.clips.map((c, i) => ({ id: c.id, text: deepgram[i] }))).toEqual(set.clips.map((c, i) => ({ id: c.id, text: openai[i] })));
});

test("8 kHz mu-law uploads: WER within the committed figure", async () => {
  const texts = await transcribeAll("telephony-upload", { base: s.base, key: KEY }, set.clips, 2);
  expect(pooled(texts)).toBeLessThanOrEqual(baseline["telephony-upload"]! + margin());
});
