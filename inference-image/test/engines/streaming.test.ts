/** Live transcription: VAD-endpointed utterances give interims, then a final with speechFinal after trailing silence. */
import { mulaw } from "alawmulaw";
import { createSpeech, parseEngineConfig } from "../../src/engines";
import type { Speech, StreamEvent, StreamResult } from "../../src/engines/types";
import { rawAudio } from "../../src/audio/pcm";
import { resample } from "../../src/audio/resample";
import { decodeAudio } from "../../src/audio/upload";
import { concat, live, silence, synthesizeAll, toFloat, wordErrorRate } from "./helpers";

jest.setTimeout(120_000);

let speech: Speech;

beforeAll(async () => {
  speech = await createSpeech(parseEngineConfig({ stt: { engine: "pocketsphinx" }, tts: { engine: "flite" }, workers: 1, streamsPerWorker: 2 }));
});

afterAll(async () => {
  await speech?.close();
});

const resultsOf = (events: StreamEvent[]): StreamResult[] => events.filter((e): e is StreamResult => e.kind === "result");

const first = "please call me back tomorrow morning at nine";
const second = "the weather today is sunny and warm";

test("two utterances separated by silence: interims, then finals with speechFinal and stream times", async () => {
  const a = toFloat(await synthesizeAll(speech, first));
  const b = toFloat(await synthesizeAll(speech, second));
  const audio = concat(silence(0.5), a, silence(1.5), b, silence(1.5));
  const session = await speech.openStream(live({ language: "en", endpointing: 500, interim_results: true }));
  const events: StreamEvent[] = [];
  // 100 ms frames, as a live client sends them.
  for (let at = 0; at < audio.length; at += 1600) events.push(...(await session.push(audio.slice(at, at + 1600))));
  const results = resultsOf(events);
  const tail = resultsOf(await session.finalize());
  await session.close();

  const finals = results.filter((r) => r.isFinal);
  expect(finals).toHaveLength(2);
  expect(finals.every((r) => r.speechFinal)).toBe(true);
  expect(wordErrorRate(first, finals[0].transcript.text)).toBeLessThanOrEqual(0.25);
  expect(wordErrorRate(second, finals[1].transcript.text)).toBeLessThanOrEqual(0.25);

  // Interims come before the first final, and the first one shortly after speech starts.
  const firstFinal = results.indexOf(finals[0]);
  const interims = results.slice(0, firstFinal).filter((r) => !r.isFinal);
  expect(interims.length).toBeGreaterThanOrEqual(1);
  expect(interims[0].transcript.text.length).toBeGreaterThan(0);

  // Segment starts and word times are on the stream clock.
  const secondStart = 0.5 + a.length / 16000 + 1.5;
  expect(finals[0].start).toBeGreaterThan(0);
  expect(finals[0].start).toBeLessThan(0.6);
  expect(Math.abs(finals[1].start - secondStart)).toBeLessThan(0.7);
  expect(finals[1].transcript.words[0].start).toBeGreaterThan(secondStart - 0.7);

  // Nothing was in progress at Finalize: one empty final.
  expect(tail).toEqual([expect.objectContaining({ isFinal: true, speechFinal: false })]);
  expect(tail[0].transcript.text).toBe("");
});

test("Finalize mid-utterance returns the final at once, without speechFinal", async () => {
  const a = toFloat(await synthesizeAll(speech, first));
  const session = await speech.openStream(live({ endpointing: 500 }));
  const pushed: StreamResult[] = [];
  const audio = concat(silence(0.3), a);
  for (let at = 0; at < audio.length; at += 3200) pushed.push(...resultsOf(await session.push(audio.slice(at, at + 3200))));
  expect(pushed.filter((r) => r.isFinal)).toHaveLength(0);
  const [final] = resultsOf(await session.finalize());
  expect(final).toMatchObject({ isFinal: true, speechFinal: false });
  expect(wordErrorRate(first, final.transcript.text)).toBeLessThanOrEqual(0.25);
  await session.close();
  await expect(session.push(new Float32Array(160))).rejects.toThrow(/closed/);
});

test("pushes sent without waiting are merged, and the results still arrive once", async () => {
  const a = toFloat(await synthesizeAll(speech, second));
  const audio = concat(silence(0.3), a, silence(1.2));
  const session = await speech.openStream(live({ endpointing: 500 }));
  const pending: Promise<StreamEvent[]>[] = [];
  for (let at = 0; at < audio.length; at += 800) pending.push(session.push(audio.slice(at, at + 800)));
  const results = resultsOf((await Promise.all(pending)).flat());
  await session.close();
  const finals = results.filter((r) => r.isFinal);
  expect(finals).toHaveLength(1);
  expect(finals[0].speechFinal).toBe(true);
  expect(wordErrorRate(second, finals[0].transcript.text)).toBeLessThanOrEqual(0.25);
});

test("speech-started at each onset, utterance-end from word times, and no VAD finals without endpointing", async () => {
  const a = toFloat(await synthesizeAll(speech, first));
  const b = toFloat(await synthesizeAll(speech, second));
  const audio = concat(silence(0.5), a, silence(1.5), b, silence(1.5));
  const feed = async (options: Parameters<Speech["openStream"]>[0]) => {
    const session = await speech.openStream(options);
    const events: StreamEvent[] = [];
    for (let at = 0; at < audio.length; at += 1600) events.push(...(await session.push(audio.slice(at, at + 1600))));
    events.push(...(await session.finalize()));
    await session.close();
    return events;
  };

  const timed = await feed(live({ endpointing: 300, utterance_end_ms: 1000, vad_events: true }));
  const starts = timed.filter((e) => e.kind === "speech-started");
  expect(starts).toHaveLength(2);
  if (starts[0].kind !== "speech-started" || starts[1].kind !== "speech-started") throw new Error("unreachable");
  // Onsets near each utterance's first word (Flite's audio opens with a little silence of its own).
  const finals = resultsOf(timed).filter((r) => r.speechFinal);
  expect(finals).toHaveLength(2);
  expect(Math.abs(starts[0].timestamp - finals[0].transcript.words[0].start)).toBeLessThan(0.3);
  expect(Math.abs(starts[1].timestamp - finals[1].transcript.words[0].start)).toBeLessThan(0.3);
  expect(timed.indexOf(starts[0])).toBeLessThan(timed.indexOf(finals[0]));
  const ends = timed.filter((e) => e.kind === "utterance-end");
  expect(ends.length).toBeGreaterThanOrEqual(1);
  const lastWord = finals[0].transcript.words[finals[0].transcript.words.length - 1];
  expect(ends[0]).toEqual({ kind: "utterance-end", lastWordEnd: lastWord.end });
  expect(timed.indexOf(ends[0])).toBeGreaterThan(timed.indexOf(finals[0]));
  expect(timed.indexOf(ends[0])).toBeLessThan(timed.indexOf(starts[1]));

  // Without endpointing the utterance stays open, and the pause after A still gives an utterance-end (from interims).
  const manualEvents = await feed(live({ endpointing: false, utterance_end_ms: 1000, vad_events: true }));
  const manual = resultsOf(manualEvents);
  const manualEnds = manualEvents.filter((e) => e.kind === "utterance-end");
  expect(manualEnds.length).toBeGreaterThanOrEqual(1);
  if (manualEnds[0].kind !== "utterance-end") throw new Error("unreachable");
  expect(manualEnds[0].lastWordEnd).toBeGreaterThan(0.5 + a.length / 16000 - 0.6);
  expect(manualEnds[0].lastWordEnd).toBeLessThan(0.5 + a.length / 16000 + 0.2);
  const manualFinals = manual.filter((r) => r.isFinal);
  expect(manualFinals).toHaveLength(1);
  expect(manualFinals[0].speechFinal).toBe(false);
  expect(wordErrorRate(`${first} ${second}`, manualFinals[0].transcript.text)).toBeLessThanOrEqual(0.3);
});

/** 16 kHz speech as a telephone leg carries it (8 kHz G.711 mu-law), then upsampled as the live route does. */
function asTelephony(audio: Float32Array): Float32Array {
  const narrow = resample(audio, 16000, 8000);
  const mu = Buffer.from(mulaw.encode(Int16Array.from(narrow, (s) => Math.round(Math.max(-1, Math.min(1, s)) * 32767))));
  return resample(decodeAudio(mu, rawAudio("mulaw", 8000)).samples, 8000, 16000);
}

async function streamFinals(audio: Float32Array, sourceRate?: number): Promise<string> {
  const session = await speech.openStream({ ...live({ language: "en", endpointing: 500 }), sourceRate });
  const events: StreamEvent[] = [];
  // 20 ms frames, as a telephony media stream sends them.
  for (let at = 0; at < audio.length; at += 320) events.push(...(await session.push(audio.slice(at, at + 320))));
  events.push(...(await session.finalize()));
  await session.close();
  return resultsOf(events)
    .filter((r) => r.isFinal && r.transcript.text)
    .map((r) => r.transcript.text)
    .join(" ");
}

test("8 kHz mu-law streams (sourceRate 8000) get narrowband decoders: mean WER <= 0.3 over three voices; 16 kHz streams keep theirs", async () => {
  // The female voice (slt) loses the most in narrowband (0.3-0.6 alone), so the bound is on the mean, as in BENCHMARKS.md.
  const errors: number[] = [];
  for (const voice of ["slt", "rms", "awb"]) {
    const call = concat(silence(0.5), toFloat(await synthesizeAll(speech, first, voice)), silence(1.5), toFloat(await synthesizeAll(speech, second, voice)), silence(1.5));
    errors.push(wordErrorRate(`${first} ${second}`, await streamFinals(asTelephony(call), 8000)));
  }
  expect(errors.reduce((x, y) => x + y, 0) / errors.length).toBeLessThanOrEqual(0.3);
  const wide = concat(silence(0.5), toFloat(await synthesizeAll(speech, first)), silence(1.5), toFloat(await synthesizeAll(speech, second)), silence(1.5));
  expect(wordErrorRate(`${first} ${second}`, await streamFinals(wide))).toBeLessThanOrEqual(0.25);
});
