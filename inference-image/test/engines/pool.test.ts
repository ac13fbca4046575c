/** The worker pool under load: a full queue refuses at once, realtime work has its own lane, the event loop stays free, close() drains and frees the engines. */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { join } from "node:path";
import { createSpeech, parseEngineConfig } from "../../src/engines";
import { QueueFullError, type Speech, type Transcript } from "../../src/engines/types";
import { buildImage, waitFor } from "../license/helpers";
import { live, synthesizeAll, toFloat } from "./helpers";

jest.setTimeout(180_000);

let speech: Speech;
let longClip: Float32Array;

beforeAll(async () => {
  speech = await createSpeech(parseEngineConfig({ stt: { engine: "pocketsphinx" }, tts: { engine: "flite" }, workers: 1, queueMax: 1, streamsPerWorker: 2 }));
  // About 8 s of speech: seconds of decoding on this machine.
  const sentence = "the quick brown fox jumps over the lazy dog and runs into the forest";
  const one = toFloat(await synthesizeAll(speech, sentence));
  longClip = new Float32Array(one.length * 2);
  for (let i = 0; i < 2; i++) longClip.set(one, i * one.length);
});

afterAll(async () => {
  await speech?.close();
});

/** Until the batch worker has taken the first job (posted to its thread: how soon depends on the machine's load). */
const batchWorkerBusy = () => waitFor("the batch worker to take the first transcription", () => speech.stats().busyWorkers === 1, 10_000, 5);

/** setImmediate lag on the main thread, sampled until `until` settles. */
async function measureLag(until: Promise<unknown>): Promise<number[]> {
  let done = false;
  void until.finally(() => (done = true));
  const lags: number[] = [];
  while (!done) {
    const t = performance.now();
    await new Promise((resolve) => setImmediate(resolve));
    lags.push(performance.now() - t);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return lags;
}

test("with the worker busy and the queue full, the next job fails fast with QueueFullError; the event loop stays responsive", async () => {
  const running = speech.transcribe(longClip);
  const queued = speech.transcribe(longClip);
  await batchWorkerBusy();
  // One realtime worker and one batch worker; the batch lane holds one transcription and has one waiting: twice its capacity.
  expect(speech.stats()).toEqual({
    queueDepth: 1,
    busyWorkers: 1,
    workers: 2,
    lanes: [
      { lane: "live", capacity: 2, inflight: 0 },
      { lane: "batch", capacity: 1, inflight: 2 },
    ],
  });

  let runningSettled = false;
  void running.finally(() => (runningSettled = true));
  const refused = await speech.transcribe(longClip).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(refused).toBeInstanceOf(QueueFullError);
  expect((refused as QueueFullError).retryAfterS).toBeGreaterThanOrEqual(1);
  // Refused without waiting for the lane: the running transcription has not finished yet (an ordering, not a clock).
  expect(runningSettled).toBe(false);
  // Synthesis has its own lane: it is served while the batch lane is full.
  await expect(speech.synthesize("hello")[Symbol.asyncIterator]().next()).resolves.toMatchObject({ done: false });

  const decodeStarted = performance.now();
  const lags = await measureLag(Promise.all([running, queued]));
  const decodeMs = performance.now() - decodeStarted;
  lags.sort((a, b) => a - b);
  expect(lags.length).toBeGreaterThan(20);
  // Decoding runs in the worker: the main thread keeps turning while it runs. Decoding on the main thread would
  // show as one stall of about the whole decode; the bound is relative, so a loaded machine does not fail it.
  expect(lags[lags.length - 1]).toBeLessThan(decodeMs / 4);
  const [a, b] = await Promise.all([running, queued]);
  // Not necessarily identical: pocketsphinx's noise estimate (-remove_noise) carries over from one utterance to the next.
  for (const t of [a, b]) expect(t.text).toMatch(/quick brown fox.*forest/);
  expect(speech.stats()).toMatchObject({ queueDepth: 0, busyWorkers: 0, workers: 2, lanes: [{ lane: "live", inflight: 0 }, { lane: "batch", inflight: 0 }] });
});

test("live audio and the first chunk of speech do not wait for long batch transcriptions", async () => {
  const session = await speech.openStream(live());
  let batchDone = false;
  const running = speech.transcribe(longClip).then(() => (batchDone = true));
  const queued = speech.transcribe(longClip);
  await batchWorkerBusy();
  for (let i = 0; i < 10; i++) await session.push(longClip.subarray(i * 1600, (i + 1) * 1600));
  const first = await speech.synthesize("hello there")[Symbol.asyncIterator]().next();
  expect(first.done).toBe(false);
  // A second of live audio and a sentence of speech were served while the first batch job still ran.
  expect(batchDone).toBe(false);
  await session.close();
  await Promise.all([running, queued]);
});

test("a live session can open while the queue is full, and its audio is not stuck behind queued batch work", async () => {
  const running = speech.transcribe(longClip);
  const queued = speech.transcribe(longClip);
  const session = await speech.openStream(live());
  const results = await session.push(new Float32Array(1600));
  expect(results).toEqual([]);
  await session.close();
  // The session's jobs went ahead of the queued batch job.
  let queuedDone = false;
  void queued.then(() => (queuedDone = true));
  expect(queuedDone).toBe(false);
  await Promise.all([running, queued]);
});

test("admit() refuses exactly when a batch job would be refused", async () => {
  expect(() => speech.admit()).not.toThrow();
  const running = speech.transcribe(longClip);
  await batchWorkerBusy();
  // The worker is busy but one queue place is left.
  expect(() => speech.admit()).not.toThrow();
  const queued = speech.transcribe(longClip);
  expect(() => speech.admit()).toThrow(QueueFullError);
  expect(() => speech.admit("synthesize")).not.toThrow();
  await Promise.all([running, queued]);
  expect(() => speech.admit()).not.toThrow();
});

(process.platform === "linux" ? test : test.skip)("engine threads run at WORKER_NICE (batch ones at BATCH_WORKER_NICE) so the event loop thread is scheduled first", () => {
  // /proc/self/task/<tid>/stat: field 19 is the nice value (16th after the ") " that ends the command name).
  const nices = fs.readdirSync("/proc/self/task").map((tid) => Number(fs.readFileSync(`/proc/self/task/${tid}/stat`, "utf8").split(") ")[1].split(" ")[16]));
  expect(nices).toContain(10);
  expect(nices).toContain(19);
  expect(nices).toContain(0);
});

test("live sessions beyond STREAMS_PER_WORKER are refused with QueueFullError", async () => {
  const small = await createSpeech(parseEngineConfig({ stt: { engine: "pocketsphinx" }, tts: { engine: "flite" }, workers: 1, streamsPerWorker: 1 }));
  try {
    const s1 = await small.openStream(live());
    // The one stream slot is the live lane's whole capacity.
    expect(small.stats().lanes[0]).toEqual({ lane: "live", capacity: 1, inflight: 1 });
    await expect(small.openStream(live())).rejects.toBeInstanceOf(QueueFullError);
    await s1.close();
    const s2 = await small.openStream(live());
    await s2.close();
  } finally {
    await small.close();
  }
});

test("stopping a synthesis early cancels the rest of the text", async () => {
  const long = Array.from({ length: 40 }, (_, i) => `This is sentence number ${i + 1}.`).join(" ");
  let received = 0;
  for await (const chunk of speech.synthesize(long)) {
    expect(chunk.length).toBeGreaterThan(0);
    if (++received === 2) break;
  }
  expect(received).toBe(2);
  // The worker is free again soon (the cancel lands between pieces), and serves the next job.
  const t: Transcript = await speech.transcribe(new Float32Array(8000));
  expect(t.text).toBe("");
});

test("close() finishes in-flight work, then refuses new work", async () => {
  const own = await createSpeech(parseEngineConfig({ stt: { engine: "pocketsphinx" }, tts: { engine: "flite" }, workers: 1, streamsPerWorker: 1 }));
  const inFlight = own.transcribe(longClip.subarray(0, 16000 * 3));
  const closing = own.close();
  expect(own.ready).toBe(false);
  await expect(own.transcribe(new Float32Array(160))).rejects.toThrow(/shutting down/);
  await expect(inFlight).resolves.toMatchObject({ language: "en" });
  await closing;
});

test("close() frees the engines' native memory: what the C allocator has handed out returns to where it was", () => {
  // pocketsphinx's decoders live in the C heap, outside the garbage collector: ending the worker thread alone left
  // them allocated, and a process grew by a pool for every pool it started. glibc's mallinfo2() counts the bytes
  // handed out and not freed (RSS would also count what the allocator keeps for reuse); in a process of its own.
  const engines = join(buildImage(), "engines");
  const script = `
const koffi = require(${JSON.stringify(require.resolve("koffi"))});
const fields = ["arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost"];
const mallinfo2 = koffi.load("libc.so.6").func("mallinfo2", koffi.struct("mallinfo2", Object.fromEntries(fields.map((f) => [f, "size_t"]))), []);
const inUse = () => { const m = mallinfo2(); return Number(m.uordblks) + Number(m.hblkhd); };
const { createSpeech, parseEngineConfig } = require(${JSON.stringify(engines)});
(async () => {
  const config = parseEngineConfig({ stt: { engine: "pocketsphinx" }, tts: { engine: "flite" }, workers: 1, streamsPerWorker: 1 });
  const before = inUse();
  const first = await createSpeech(config);
  const onePool = inUse() - before;
  await first.close();
  const after = [inUse()];
  for (let i = 0; i < 2; i++) {
    await (await createSpeech(config)).close();
    after.push(inUse());
  }
  process.stdout.write(JSON.stringify({ onePool, grown: after.map((a) => a - before) }));
})();`;
  const { onePool, grown } = JSON.parse(execFileSync(process.execPath, ["-e", script], { encoding: "utf8" })) as { onePool: number; grown: number[] };
  // A running pool holds its decoders (hundreds of MB); after each close, only what the libraries keep once loaded.
  expect(onePool).toBeGreaterThan(100e6);
  for (const g of grown) expect(g).toBeLessThan(onePool / 10);
});
