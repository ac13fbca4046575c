/**
 * Every sherpa-* engine run for real through the HTTP and WebSocket routes, each on a tiny model the
 * test writes and stages with the import command (sherpa-models.ts says what they cover): the start-up
 * checks and manifest verification, the load probe, the worker pool (batch and realtime lanes),
 * live streaming, TTS voices and speed, and the provider choice (cpu, and auto falling back to cpu here).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { WebSocket } from "ws";
import { createSpeech, parseEngineConfig, type EngineConfig } from "../../src/engines";
import type { LogFields, Logger } from "../../src/shared/log";
import { importModel } from "../../src/model-import/import";
import type { SherpaEngine } from "../../src/engines/model-files";
import { TRANSCRIPT, TTS, writeKokoro, writeParaformer, writeTransducer, writeVits, writeWhisper } from "../engines/sherpa-models";
import { auth, KEY, parseWav, startServer, synthesizeWav, type Started } from "./helpers";

jest.setTimeout(180_000);

let scratch: string;
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "sherpa-routes-"));
});
afterAll(() => {
  fs.rmSync(scratch, { recursive: true, force: true });
});

interface Captured {
  level: string;
  msg: string;
  fields?: LogFields;
}

function capturingLogger(into: Captured[]): Logger {
  const at = (level: string) => (msg: string, fields?: LogFields) => into.push({ level, msg, fields });
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") } as Logger;
}

/** Write the tiny model and stage it as an operator would (manifest and all). */
async function staged(engine: SherpaEngine, write: (dir: string) => string): Promise<string> {
  const source = write(path.join(scratch, engine, "source"));
  const out = path.join(scratch, engine, "staged");
  await importModel({ source, engine, out, licence: "MIT", languages: ["en"], load: false });
  return out;
}

/** A server on `config`'s engines, with the start-up log kept. */
async function serve(config: Partial<Parameters<typeof parseEngineConfig>[0]> & Pick<Parameters<typeof parseEngineConfig>[0], "stt" | "tts">) {
  const logs: Captured[] = [];
  const speech = await createSpeech(parseEngineConfig({ workers: 1, batchWorkers: 1, streamsPerWorker: 2, ...config }), { logger: capturingLogger(logs) });
  const server = await startServer({ speech });
  return { server, logs, speech };
}

async function json(res: Response): Promise<Record<string, unknown>> {
  expect(res.headers.get("content-type")).toMatch(/json/);
  return (await res.json()) as Record<string, unknown>;
}

/** Stream PCM16 at 16 kHz in 20 ms frames, then ask for the rest; resolves with every Results message. */
function live(port: number, pcm: Int16Array): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/listen?encoding=linear16&sample_rate=16000&endpointing=300`, { headers: { authorization: `Token ${KEY}` } });
    const results: Record<string, unknown>[] = [];
    ws.on("open", () => {
      const bytes = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
      for (let at = 0; at < bytes.length; at += 640) ws.send(bytes.subarray(at, at + 640));
      ws.send(JSON.stringify({ type: "Finalize" }));
      ws.send(JSON.stringify({ type: "CloseStream" }));
    });
    ws.on("message", (d) => {
      const msg = JSON.parse(d.toString()) as Record<string, unknown>;
      if (msg.type === "Results") results.push(msg);
    });
    ws.on("close", () => resolve(results));
    ws.on("error", reject);
  });
}

const transcriptOf = (r: Record<string, unknown>) => (r as { channel: { alternatives: { transcript: string }[] } }).channel.alternatives[0].transcript;

const STT: { engine: SherpaEngine; write: (dir: string) => string; provider: "cpu" | "auto" }[] = [
  { engine: "sherpa-whisper", write: writeWhisper, provider: "auto" },
  { engine: "sherpa-transducer", write: writeTransducer, provider: "cpu" },
  { engine: "sherpa-paraformer", write: writeParaformer, provider: "cpu" },
];

describe.each(STT)("$engine through the routes (provider $provider)", ({ engine, write, provider }) => {
  let s: Started;
  let logs: Captured[];
  let speechWav: Buffer;
  let speechPcm: Int16Array;

  beforeAll(async () => {
    const dir = await staged(engine, write);
    ({ server: s, logs } = await serve({ stt: { engine: engine as EngineConfig["stt"]["engine"], modelDir: dir, provider }, tts: { engine: "flite" } }));
    // Speech to send: Flite's, from the same server (the models ignore what is said, the live route's VAD does not).
    speechWav = await synthesizeWav(s.base, SPOKEN);
    speechPcm = await pcm16k(s);
  });
  afterAll(async () => {
    await s?.stop();
  });

  test("loads after its manifest is verified; /v1/models and /health/ready name the engine and provider, with the choice logged", async () => {
    expect(logs).toContainEqual(expect.objectContaining({ msg: "model verified against its manifest", fields: expect.objectContaining({ engine, licence: "MIT" }) }));
    const choice = logs.find((l) => l.msg === "execution provider" && l.fields?.kind === "stt");
    expect(choice?.fields).toMatchObject({ engine, requested: provider, provider: "cpu" });
    if (provider === "auto") expect(String(choice?.fields?.reason)).toMatch(/STT_PROVIDER=auto chose cpu: runtime: onnxruntime .* was built without CUDA/);
    const models = await json(await fetch(`${s.base}/v1/models`, { headers: auth }));
    expect((models.data as Record<string, unknown>[])[0]).toMatchObject({ id: `${engine}:staged`, kind: "stt", engine, provider: "cpu", sample_rate: 16000 });
    const ready = await json(await fetch(`${s.base}/health/ready`));
    expect(ready.engines).toContainEqual({ model: `${engine}:staged`, kind: "stt", engine, provider: "cpu" });
  });

  test("OpenAI and Deepgram uploads decode the model's transcript, several at once on the batch and realtime workers", async () => {
    const openai = async () => {
      const form = new FormData();
      form.append("file", new Blob([speechWav]), "speech.wav");
      form.append("model", "whisper-1");
      form.append("response_format", "verbose_json");
      return json(await fetch(`${s.base}/v1/audio/transcriptions`, { method: "POST", headers: auth, body: form }));
    };
    const deepgram = async () => json(await fetch(`${s.base}/v1/listen?punctuate=false`, { method: "POST", headers: { ...auth, "content-type": "audio/wav" }, body: speechWav }));
    const [a, b, c, d] = await Promise.all([openai(), deepgram(), openai(), deepgram()]);
    for (const r of [a, c]) {
      expect(String(r.text).trim().toLowerCase()).toBe(TRANSCRIPT);
      expect(r.duration).toBeGreaterThan(1);
    }
    for (const r of [b, d]) {
      const alt = (r as { results: { channels: { alternatives: { transcript: string; words: { word: string }[] }[] }[] } }).results.channels[0].alternatives[0];
      expect(alt.transcript.toLowerCase()).toBe(TRANSCRIPT);
      expect(alt.words.map((w) => w.word.toLowerCase())).toEqual(TRANSCRIPT.split(" "));
    }
  });

  test("a live WebSocket stream gets the transcript as a final result", async () => {
    const silence = new Int16Array(16000);
    const results = await live(s.address.port, Int16Array.from([...silence.subarray(0, 4000), ...speechPcm, ...silence]));
    const finals = results.filter((r) => r.is_final && transcriptOf(r) !== "");
    expect(finals.map((r) => transcriptOf(r).toLowerCase())).toContain(TRANSCRIPT);
  });
});

const SPOKEN = "please call me back tomorrow morning";

/** The same speech as raw PCM16 at 16 kHz, from the Deepgram speak route, for the live stream. */
async function pcm16k(s: Started): Promise<Int16Array> {
  const res = await fetch(`${s.base}/v1/speak?encoding=linear16&sample_rate=16000&container=none`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ text: SPOKEN }),
  });
  expect(res.status).toBe(200);
  const buf = Buffer.from(await res.arrayBuffer());
  return new Int16Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + (buf.length & ~1)));
}

/** Frequency of a sine wave from its zero crossings (rate-independent: the route may resample). */
function frequency(samples: Int16Array, rate: number): number {
  let crossings = 0;
  for (let i = 1; i < samples.length; i++) if ((samples[i - 1] < 0) !== (samples[i] < 0)) crossings++;
  return crossings / 2 / (samples.length / rate);
}

const TTS_ENGINES: { engine: SherpaEngine; write: (dir: string) => string; spec: (typeof TTS)["vits"] }[] = [
  { engine: "sherpa-vits", write: writeVits, spec: TTS.vits },
  { engine: "sherpa-kokoro", write: writeKokoro, spec: TTS.kokoro },
];

describe.each(TTS_ENGINES)("$engine through the routes", ({ engine, write, spec }) => {
  let s: Started;
  let logs: Captured[];

  beforeAll(async () => {
    const dir = await staged(engine, write);
    ({ server: s, logs } = await serve({ stt: { engine: "pocketsphinx" }, tts: { engine: engine as EngineConfig["tts"]["engine"], modelDir: dir, provider: "auto" } }));
  });
  afterAll(async () => {
    await s?.stop();
  });

  const speak = async (body: Record<string, unknown>) => {
    const res = await fetch(`${s.base}/v1/audio/speech`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ model: "tts-1", input: "Hello world.", response_format: "wav", ...body }),
    });
    expect(res.status).toBe(200);
    return parseWav(Buffer.from(await res.arrayBuffer()));
  };

  test("lists the model's speakers as voices, on the provider auto chose (cpu here), with the reason logged", async () => {
    const models = await json(await fetch(`${s.base}/v1/models`, { headers: auth }));
    expect((models.data as Record<string, unknown>[])[1]).toMatchObject({ kind: "tts", engine, provider: "cpu", sample_rate: spec.sampleRate, voices: ["0", "1"] });
    const choice = logs.find((l) => l.msg === "execution provider" && l.fields?.kind === "tts");
    expect(choice?.fields).toMatchObject({ engine, requested: "auto", provider: "cpu", reason: expect.stringMatching(/TTS_PROVIDER=auto chose cpu/) });
  });

  test("each voice answers the model's own waveform: a sine at that voice's frequency, half as long at speed 2", async () => {
    const [v0, v1, fast] = await Promise.all([speak({ voice: "0" }), speak({ voice: "1" }), speak({ voice: "0", speed: 2 })]);
    for (const [wav, hz] of [[v0, spec.hz[0]], [v1, spec.hz[1]], [fast, spec.hz[0]]] as const) {
      expect(frequency(wav.samples, wav.sampleRate)).toBeGreaterThan(hz * 0.95);
      expect(frequency(wav.samples, wav.sampleRate)).toBeLessThan(hz * 1.05);
      // Amplitude 0.5 of full scale, as the graph computes it.
      expect(Math.max(...wav.samples)).toBeGreaterThan(0.45 * 32767);
      expect(Math.max(...wav.samples)).toBeLessThan(0.55 * 32767);
    }
    expect(v0.samples.length).toBe(v1.samples.length);
    expect(fast.samples.length / v0.samples.length).toBeCloseTo(0.5, 1);
    // The length is a whole number of tokens' worth of samples at the model's rate.
    const engineSamples = (v0.samples.length * spec.sampleRate) / v0.sampleRate;
    expect(engineSamples / spec.samplesPerToken).toBeGreaterThan(3);
  });

  test("an unknown voice is a 400 naming the model's voices; an OpenAI voice name gets the default speaker", async () => {
    const res = await fetch(`${s.base}/v1/audio/speech`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ model: "tts-1", input: "Hello world.", voice: "7" }),
    });
    expect(res.status).toBe(400);
    expect(((await json(res)) as { error: { message: string } }).error.message).toMatch(/unknown voice "7"; known voices: 0, 1/);
    const alloy = await speak({ voice: "alloy" });
    expect(frequency(alloy.samples, alloy.sampleRate)).toBeCloseTo(spec.hz[0], -1);
  });
});
