/** The HTTP API over real HTTP with the real built-in engines (pocketsphinx + Flite). */
import { Agent, request } from "node:http";
import { connect } from "node:net";
import { WebSocket } from "ws";
import { floatToInt16, int16ToFloat } from "../../src/audio/pcm";
import { resample } from "../../src/audio/resample";
import { encodeWav } from "../../src/audio/wav";
import { waitFor } from "../license/helpers";
import { auth, KEY, parseWav, SENTENCE, startServer, type Started, synthesizeWav } from "./helpers";
import { wordErrorRate } from "../engines/helpers";

jest.setTimeout(120_000);

let s: Started;
let limited: Started;
let speechWav: Buffer;

beforeAll(async () => {
  s = await startServer();
  // Same engines, tight limits: to see 413s and 400s for size without sending megabytes.
  limited = await startServer({ speech: s.speech, config: { MAX_BODY_BYTES: 200_000, MAX_AUDIO_SECONDS: 2, MAX_TEXT_CHARS: 40 } });
  speechWav = await synthesizeWav(s.base, SENTENCE);
});

afterAll(async () => {
  await limited?.stop();
  await s?.stop();
});

function form(file: Buffer, fields: Record<string, string | string[]> = {}, filename = "audio.wav"): FormData {
  const f = new FormData();
  f.append("file", new Blob([file]), filename);
  for (const [k, v] of Object.entries(fields)) for (const x of ([] as string[]).concat(v)) f.append(k, x);
  return f;
}

type Body = NonNullable<Parameters<typeof fetch>[1]>["body"];
const post = (base: string, path: string, body: Body, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, { method: "POST", headers: { ...auth, ...headers }, body });

/** 16 kHz mono PCM16 WAV -> 44.1 kHz stereo float32 WAV (exercises channel mixing and resampling). */
function toStereoFloat44k(wav: Buffer): Buffer {
  const mono = resample(int16ToFloat(parseWav(wav).samples), 16000, 44100);
  const data = Buffer.alloc(mono.length * 8);
  for (let i = 0; i < mono.length; i++) {
    data.writeFloatLE(mono[i], i * 8);
    data.writeFloatLE(mono[i], i * 8 + 4);
  }
  const h = Buffer.alloc(44);
  h.write("RIFF", 0, "latin1");
  h.writeUInt32LE(36 + data.length, 4);
  h.write("WAVEfmt ", 8, "latin1");
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(3, 20);
  h.writeUInt16LE(2, 22);
  h.writeUInt32LE(44100, 24);
  h.writeUInt32LE(44100 * 8, 28);
  h.writeUInt16LE(8, 32);
  h.writeUInt16LE(32, 34);
  h.write("data", 36, "latin1");
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

describe("speech", () => {
  it("returns a valid, streamed WAV of plausible length", async () => {
    const res = await fetch(`${s.base}/v1/audio/speech`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ model: "tts-1", input: SENTENCE, voice: "alloy", response_format: "wav" }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("audio/wav");
    expect(res.headers.get("transfer-encoding")).toBe("chunked");
    const wav = parseWav(Buffer.from(await res.arrayBuffer()));
    expect(wav).toMatchObject({ sampleRate: s.speech.tts.sampleRate, channels: 1, bits: 16 });
    const seconds = wav.samples.length / wav.sampleRate;
    // 13 words at a normal speaking rate: 2.5-8 s.
    expect(seconds).toBeGreaterThan(2.5);
    expect(seconds).toBeLessThan(8);
    const rms = Math.sqrt(wav.samples.reduce((a, x) => a + x * x, 0) / wav.samples.length);
    expect(rms).toBeGreaterThan(300);
  });

  it("returns OpenAI pcm at 24 kHz and Deepgram raw PCM at the asked rate", async () => {
    const wavSamples = parseWav(speechWav).samples.length;
    const pcm = await post(s.base, "/v1/audio/speech", JSON.stringify({ model: "gpt-4o-mini-tts", input: SENTENCE, voice: "slt", response_format: "pcm" }), {
      "content-type": "application/json",
    });
    expect(pcm.status).toBe(200);
    const pcmSamples = (await pcm.arrayBuffer()).byteLength / 2;
    expect(pcmSamples / wavSamples).toBeCloseTo(24000 / s.speech.tts.sampleRate, 1);

    const dg = await post(s.base, "/v1/speak?model=aura-2-thalia-en&encoding=linear16&container=none&sample_rate=8000", JSON.stringify({ text: SENTENCE }), {
      "content-type": "application/json",
    });
    expect(dg.status).toBe(200);
    expect(dg.headers.get("dg-request-id")).toBeTruthy();
    expect((await dg.arrayBuffer()).byteLength / 2 / wavSamples).toBeCloseTo(8000 / s.speech.tts.sampleRate, 1);

    const dgWav = await post(s.base, "/v1/speak", JSON.stringify({ text: "hello there" }), { "content-type": "application/json" });
    expect(parseWav(Buffer.from(await dgWav.arrayBuffer())).sampleRate).toBe(24000);
  });
});

describe("transcription", () => {
  it("transcribes a Flite sentence with WER <= 25% (OpenAI json)", async () => {
    const res = await post(s.base, "/v1/audio/transcriptions", form(speechWav, { model: "whisper-1", language: "en" }));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { text: string; usage: { seconds: number } };
    expect(wordErrorRate(SENTENCE, body.text)).toBeLessThanOrEqual(0.25);
    expect(body.usage.seconds).toBeGreaterThan(2);
  });

  it("answers text, srt, vtt and verbose_json with word timestamps", async () => {
    const text = await post(s.base, "/v1/audio/transcriptions", form(speechWav, { model: "gpt-4o-transcribe", response_format: "text" }));
    expect(wordErrorRate(SENTENCE, await text.text())).toBeLessThanOrEqual(0.25);
    const srt = await (await post(s.base, "/v1/audio/transcriptions", form(speechWav, { model: "whisper-1", response_format: "srt" }))).text();
    expect(srt).toMatch(/^1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n\S/);
    const vtt = await (await post(s.base, "/v1/audio/transcriptions", form(speechWav, { model: "whisper-1", response_format: "vtt" }))).text();
    expect(vtt).toMatch(/^WEBVTT\n\n\d\d:\d\d:\d\d\.\d{3} --> /);
    const verbose = (await (
      await post(s.base, "/v1/audio/transcriptions", form(speechWav, { model: "whisper-1", response_format: "verbose_json", "timestamp_granularities[]": ["word", "segment"] }))
    ).json()) as { language: string; duration: number; words: { word: string; start: number; end: number }[]; segments: unknown[] };
    expect(verbose.language).toBe("english");
    expect(verbose.segments.length).toBeGreaterThan(0);
    expect(verbose.words.length).toBeGreaterThan(8);
    for (let i = 1; i < verbose.words.length; i++) expect(verbose.words[i].start).toBeGreaterThanOrEqual(verbose.words[i - 1].start);
    expect(verbose.words[verbose.words.length - 1].end).toBeLessThanOrEqual(verbose.duration + 0.05);
  });

  it("transcribes 44.1 kHz stereo float WAV and raw linear16 on /v1/listen (Deepgram shape)", async () => {
    const res = await post(s.base, "/v1/listen?model=nova-3&smart_format=true", toStereoFloat44k(speechWav), { "content-type": "audio/wav" });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      metadata: { request_id: string; duration: number; channels: number; models: string[]; model_info: Record<string, unknown>; warnings: { parameter: string }[] };
      results: { channels: { alternatives: { transcript: string; confidence: number; words: { word: string; start: number }[] }[] }[] };
    };
    const alt = body.results.channels[0].alternatives[0];
    expect(wordErrorRate(SENTENCE, alt.transcript)).toBeLessThanOrEqual(0.25);
    expect(alt.words.length).toBeGreaterThan(8);
    expect(body.metadata.channels).toBe(2);
    expect(body.metadata.model_info[body.metadata.models[0]]).toBeDefined();
    expect(body.metadata.warnings.map((w) => w.parameter)).toEqual(["smart_format"]);

    const raw = parseWav(speechWav).samples;
    const rawBody = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    const r2 = await post(s.base, `/v1/listen?encoding=linear16&sample_rate=${s.speech.tts.sampleRate}`, rawBody, { "content-type": "application/octet-stream", authorization: `Token ${KEY}` });
    expect(r2.status).toBe(200);
    const b2 = (await r2.json()) as typeof body;
    expect(wordErrorRate(SENTENCE, b2.results.channels[0].alternatives[0].transcript)).toBeLessThanOrEqual(0.25);
  });
});

describe("bad input gets a 4xx JSON error and the server keeps serving", () => {
  const json = { "content-type": "application/json" };
  // A WAV whose header declares the full length, cut short (streamed WAVs declare no length to check).
  const truncatedWav = () => encodeWav(parseWav(speechWav).samples, s.speech.tts.sampleRate).subarray(0, 2000);
  const cases: [string, () => Promise<Response>, number, RegExp][] = [
    ["empty body on /v1/listen", () => post(s.base, "/v1/listen", Buffer.alloc(0), { "content-type": "audio/wav" }), 400, /empty/],
    ["not audio", () => post(s.base, "/v1/listen", Buffer.from("this is plain text, not audio"), { "content-type": "audio/wav" }), 415, /Supported: .*WAV/],
    ["garbage behind an mp3 magic", () => post(s.base, "/v1/audio/transcriptions", form(Buffer.from("ID3\u0003\u0000\u0000 fake mp3"), { model: "whisper-1" }, "a.mp3")), 400, /mp3/],
    ["truncated WAV", () => post(s.base, "/v1/audio/transcriptions", form(truncatedWav(), { model: "whisper-1" })), 400, /truncated WAV/],
    ["JSON {url} on /v1/listen", () => post(s.base, "/v1/listen", JSON.stringify({ url: "https://example.com/a.wav" }), json), 400, /fetches nothing from outside/],
    ["malformed JSON", () => post(s.base, "/v1/audio/speech", "{not json", json), 400, /not valid JSON/],
    ["JSON array body", () => post(s.base, "/v1/speak", "[1,2]", json), 400, /JSON object/],
    ["missing input", () => post(s.base, "/v1/audio/speech", JSON.stringify({ model: "tts-1" }), json), 400, /input must be a non-empty string/],
    ["unknown TTS model", () => post(s.base, "/v1/audio/speech", JSON.stringify({ model: "eleven-v2", input: "hi" }), json), 400, /known models: .*tts-1.*aura\*/],
    ["unknown STT model", () => post(s.base, "/v1/listen?model=whisper-large", speechWav, { "content-type": "audio/wav" }), 400, /known models: .*nova\*/],
    ["unknown voice", () => post(s.base, "/v1/audio/speech", JSON.stringify({ model: "tts-1", input: "hi", voice: "no-such-voice" }), json), 400, /voice/],
    ["unknown speech format", () => post(s.base, "/v1/audio/speech", JSON.stringify({ model: "tts-1", input: "hi", response_format: "webm" }), json), 400, /mp3, opus, aac, flac, wav, pcm/],
    ["bad speed", () => post(s.base, "/v1/audio/speech", JSON.stringify({ model: "tts-1", input: "hi", speed: 9 }), json), 400, /speed/],
    ["bad response_format", () => post(s.base, "/v1/audio/transcriptions", form(speechWav, { response_format: "docx" })), 400, /response_format/],
    ["no file part", () => post(s.base, "/v1/audio/transcriptions", (() => { const f = new FormData(); f.append("model", "whisper-1"); return f; })()), 400, /file/],
    ["not multipart", () => post(s.base, "/v1/audio/transcriptions", speechWav, { "content-type": "audio/wav" }), 400, /multipart/],
    ["raw without sample_rate", () => post(s.base, "/v1/listen?encoding=linear16", Buffer.alloc(3200), { "content-type": "application/octet-stream" }), 400, /sample_rate/],
    ["unsupported encoding", () => post(s.base, "/v1/speak?encoding=speex", JSON.stringify({ text: "hi" }), json), 400, /linear16, mulaw, alaw, mp3/],
    ["bit_rate outside Deepgram's mp3 values", () => post(s.base, "/v1/speak?encoding=mp3&bit_rate=64000", JSON.stringify({ text: "hi" }), json), 400, /32000 or 48000/],
    ["sample_rate Deepgram fixes for opus", () => post(s.base, "/v1/speak?encoding=opus&sample_rate=16000", JSON.stringify({ text: "hi" }), json), 400, /48000/],
    ["callback", () => post(s.base, "/v1/listen?callback=https://example.com", speechWav, { "content-type": "audio/wav" }), 400, /callback/],
    ["huge body", () => post(limited.base, "/v1/listen", Buffer.alloc(300_000), { "content-type": "audio/wav" }), 413, /limit/],
    ["huge multipart file", () => post(limited.base, "/v1/audio/transcriptions", form(Buffer.alloc(300_000))), 413, /limit/],
    ["audio too long", () => post(limited.base, "/v1/listen", speechWav, { "content-type": "audio/wav" }), 413, /limit is 2 s/],
    ["huge text", () => post(limited.base, "/v1/audio/speech", JSON.stringify({ model: "tts-1", input: "word ".repeat(20) }), json), 400, /limit is 40/],
    ["unknown route", () => post(s.base, "/v2/nothing", "x"), 404, /no route/],
    ["wrong method", () => fetch(`${s.base}/v1/audio/speech`, { headers: auth }), 405, /not allowed/],
  ];

  it.each(cases)("%s", async (_name, send, status, message) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.headers.get("content-type")).toBe("application/json");
    const body = (await res.json()) as { error?: { message: string; type: string; code: string }; err_msg?: string; err_code?: string };
    const text = body.error?.message ?? body.err_msg;
    expect(text).toMatch(message);
    expect(body.error?.code ?? body.err_code).toBeTruthy();
    expect((await fetch(`${s.base}/health/live`)).status).toBe(200);
  });

  it("garbage WebSocket frames get an Error message and a policy close, not a crash", async () => {
    const open = (query: string) => new WebSocket(`ws://127.0.0.1:${s.address.port}/v1/listen${query}`, { headers: { authorization: `Token ${KEY}` } });
    const outcome = (ws: WebSocket, send: (ws: WebSocket) => void) =>
      new Promise<{ code: number; messages: Record<string, unknown>[] }>((resolve, reject) => {
        const messages: Record<string, unknown>[] = [];
        ws.on("open", () => send(ws));
        ws.on("message", (d) => messages.push(JSON.parse(d.toString()) as Record<string, unknown>));
        ws.on("close", (code) => resolve({ code, messages }));
        ws.on("error", reject);
      });
    const notJson = await outcome(open("?encoding=linear16&sample_rate=16000"), (ws) => ws.send("{{{ not json"));
    expect(notJson.code).toBe(1008);
    expect(notJson.messages[0]).toMatchObject({ type: "Error", err_code: "INVALID_MESSAGE" });
    const unknownType = await outcome(open("?encoding=linear16&sample_rate=16000"), (ws) => ws.send(JSON.stringify({ type: "Launch" })));
    expect(unknownType.code).toBe(1008);
    const notWav = await outcome(open(""), (ws) => ws.send(Buffer.from("definitely not a wav header, just bytes")));
    expect(notWav.code).toBe(1008);
    expect(String(notWav.messages[0].err_msg)).toMatch(/encoding=linear16/);
    expect((await fetch(`${s.base}/health/live`)).status).toBe(200);
  });

  it("refuses bad WebSocket upgrades with HTTP errors", async () => {
    const status = (query: string, headers: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${s.address.port}/v1/listen${query}`, { headers });
        ws.on("unexpected-response", (_req, res) => {
          resolve(res.statusCode ?? 0);
          res.resume();
        });
        ws.on("open", () => {
          ws.close();
          resolve(101);
        });
        ws.on("error", () => undefined);
      });
    expect(await status("", {})).toBe(401);
    expect(await status("", { authorization: "Token wrong-key-wrong-key" })).toBe(401);
    expect(await status("?encoding=amr-nb", { authorization: `Token ${KEY}` })).toBe(400);
    expect(await status("?model=gpt-5", { authorization: `Token ${KEY}` })).toBe(400);
  });
});

describe("keep-alive connections", () => {
  /** One GET on a keep-alive agent of one socket: the status, the Keep-Alive header and whether the socket was reused. */
  const get = (agent: Agent, base: string) =>
    new Promise<{ status: number; keepAlive: string; reused: boolean }>((resolve, reject) => {
      const req = request(`${base}/health/live`, { agent }, (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, keepAlive: String(res.headers["keep-alive"]), reused: req.reusedSocket }));
      });
      req.on("error", reject).end();
    });

  it("keeps an idle connection past Node's 5 s default, so a pooled client's next request finds it open", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(await get(agent, s.base)).toEqual({ status: 200, keepAlive: "timeout=65", reused: false });
      await new Promise((r) => setTimeout(r, 6000));
      expect(await get(agent, s.base)).toMatchObject({ status: 200, reused: true });
    } finally {
      agent.destroy();
    }
  });

  it("closes idle connections at once on shutdown instead of waiting out the keep-alive", async () => {
    const own = await startServer({ speech: s.speech });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      await get(agent, own.base);
      const started = performance.now();
      await own.stop();
      expect(performance.now() - started).toBeLessThan(5000);
    } finally {
      agent.destroy();
    }
  });
});

describe("auth, health, metadata", () => {
  it("needs a key for the API but not for health, metrics and the OpenAPI document", async () => {
    const none = await fetch(`${s.base}/v1/models`);
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ error: expect.objectContaining({ code: "missing_api_key", type: "authentication_error" }) });
    const wrong = await fetch(`${s.base}/v1/listen`, { method: "POST", headers: { authorization: "Token not-the-right-key-at-all" }, body: speechWav });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ err_code: "INVALID_API_KEY" });
    expect((await fetch(`${s.base}/v1/models`, { headers: { authorization: `Token ${KEY}` } })).status).toBe(200);
    expect((await fetch(`${s.base}/health/live`)).status).toBe(200);
    const ready = await fetch(`${s.base}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ready", engines_loaded: true, license: { mode: "local", allowed: true } });
  });

  it("lists models with their aliases, and documents every route in OpenAPI 3.1", async () => {
    const models = (await (await fetch(`${s.base}/v1/models`, { headers: auth })).json()) as { data: { id: string; alias_of?: string }[] };
    const ids = models.data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining([s.speech.stt.id, s.speech.tts.id, "whisper-1", "gpt-realtime-whisper", "nova-3", "tts-1"]));
    expect(models.data.find((m) => m.id === "whisper-1")?.alias_of).toBe(s.speech.stt.id);
    const doc = (await (await fetch(`${s.base}/openapi.json`)).json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe("3.1.0");
    for (const [path, method] of [
      ["/v1/audio/transcriptions", "post"],
      ["/v1/audio/speech", "post"],
      ["/v1/listen", "post"],
      ["/v1/listen", "get"],
      ["/v1/speak", "post"],
      ["/v1/models", "get"],
      ["/health/ready", "get"],
      ["/metrics", "get"],
    ]) {
      expect(doc.paths[path]?.[method]).toBeDefined();
    }
  });

  it("exports Prometheus metrics for what was served", async () => {
    const text = await (await fetch(`${s.base}/metrics`)).text();
    expect(text).toMatch(/^inference_inflight_requests 0$/m);
    expect(text).toMatch(/inference_http_request_duration_seconds_count\{route="\/v1\/audio\/transcriptions",method="POST",status="200"\} [1-9]/);
    expect(text).toMatch(/inference_real_time_factor_count\{feature="stt"\} [1-9]/);
    expect(text).toMatch(/inference_audio_seconds_total\{feature="tts"\} [1-9]/);
    expect(text).toMatch(/inference_characters_total [1-9]/);
    expect(text).toMatch(/^inference_queue_depth \d+$/m);
    expect(text).toMatch(/^inference_worker_utilisation [\d.]+$/m);
    // The autoscaler's figures, per engine lane, derived from the pool's configuration.
    expect(text).toMatch(/^inference_capacity\{lane="live"\} [1-9]\d*$/m);
    expect(text).toMatch(/^inference_load_ratio\{lane="live"\} 0$/m);
  });
});

describe("saturation", () => {
  it("answers 429 with Retry-After at once when the queue is full, and serves the rest", async () => {
    const small = await startServer({ workers: 1, queueMax: 1 });
    try {
      const wav = Buffer.from(speechWav);
      const results = await Promise.all(
        Array.from({ length: 8 }, () => post(small.base, "/v1/listen", wav, { "content-type": "audio/wav" }).then(async (r) => ({ status: r.status, retry: r.headers.get("retry-after"), body: await r.json() }))),
      );
      const statuses = results.map((r) => r.status).sort();
      expect(statuses.filter((x) => x === 429).length).toBeGreaterThan(0);
      expect(statuses.every((x) => x === 200 || x === 429)).toBe(true);
      const refused = results.find((r) => r.status === 429)!;
      expect(Number(refused.retry)).toBeGreaterThanOrEqual(1);
      expect(refused.body).toMatchObject({ err_code: "TOO_MANY_REQUESTS" });
    } finally {
      await small.stop();
    }
  });
});

describe("admission", () => {
  /** Send only the request head of a large upload and wait for the status line: a server that reads the body first would never answer. */
  function headOnly(port: number, path: string, headers: Record<string, string>): Promise<{ head: string }> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => {
        const lines = [`POST ${path} HTTP/1.1`, "host: 127.0.0.1", ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), "", ""];
        socket.write(lines.join("\r\n"));
      });
      let text = "";
      socket.on("data", (d: Buffer) => {
        text += d.toString("latin1");
        if (text.includes("\r\n\r\n")) {
          socket.destroy();
          resolve({ head: text });
        }
      });
      socket.on("error", reject);
      socket.setTimeout(30_000, () => {
        socket.destroy();
        reject(new Error(`no answer before the body was sent; got: ${text}`));
      });
    });
  }

  it("answers 429 with Retry-After before reading the body while the queue is full", async () => {
    // One lane for everything, so a busy transcription also fills the speech route's lane.
    const small = await startServer({ workers: 1, batchWorkers: 0, queueMax: 0 });
    try {
      // Keep the only worker busy for seconds with a long clip.
      const one = int16ToFloat(parseWav(speechWav).samples);
      const long = new Float32Array(one.length * 3);
      for (let i = 0; i < 3; i++) long.set(one, i * one.length);
      const busy = small.speech.transcribe(long);
      await waitFor("the worker to take the long clip", () => small.speech.stats().busyWorkers === 1, 10_000, 5);
      const common = { ...auth, "content-length": String(40 * 1024 * 1024) };
      // Answered at all proves it: headOnly never sends the 40 MiB the requests declare (how fast is bench territory).
      const refused = await Promise.all([
        headOnly(small.address.port, "/v1/listen", { ...common, "content-type": "audio/wav" }),
        headOnly(small.address.port, "/v1/audio/speech", { ...common, "content-type": "application/json" }),
      ]);
      for (const r of refused) {
        expect(r.head).toMatch(/^HTTP\/1\.1 429 /);
        expect(Number(/\r\nretry-after: (\d+)/i.exec(r.head)?.[1])).toBeGreaterThanOrEqual(1);
      }
      expect((await busy).text).toContain("fox");
      // Once the worker is free the same request is admitted again.
      expect((await post(small.base, "/v1/listen", speechWav, { "content-type": "audio/wav" })).status).toBe(200);
    } finally {
      await small.stop();
    }
  });
});

describe("float helpers used by the tests", () => {
  it("round-trips PCM16", () => {
    const x = new Int16Array([0, 1000, -1000, 32767, -32768]);
    expect(Array.from(floatToInt16(int16ToFloat(x)))).toEqual(Array.from(x));
  });
});
