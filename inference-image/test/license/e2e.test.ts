/**
 * End to end, all real processes, compiled as `npm run build -w inference-image` compiles the image
 * (every file under src/, by buildImage into its cache; dist.test.ts checks dist/ itself): the inference
 * server with LICENSE_PROXY_URL pointing at the license proxy, which leases from and uploads to the
 * fake license server. One request gives exactly one usage record upstream, with the
 * right audio seconds / characters / status; a license that stops covering a feature makes the
 * server answer 403 with the proxy's reason.
 */
import { join } from "node:path";
import { FakeUpstream } from "./fake-upstream";
import { buildImage, cleanUp, health, metricValue, ProxyProcess, tempDir, waitFor } from "./helpers";

jest.setTimeout(300_000);

const API_KEY = "e2e-test-key-0123456789abcdef";
let upstream: FakeUpstream;
let proxy: ProxyProcess | undefined;
let server: ProxyProcess | undefined;

afterAll(async () => {
  await server?.kill();
  await proxy?.kill();
  await upstream?.stop();
  cleanUp();
});

async function startServer(build: string, proxyUrl: string): Promise<string> {
  server = await ProxyProcess.startScript(join(build, "server", "main.js"), "listening", { WORKERS: "1", API_KEYS: API_KEY, LICENSE_PROXY_URL: proxyUrl });
  return server.base;
}

test("a transcription through the real server yields exactly one usage record upstream; a refused license yields 403 with the reason", async () => {
  const build = buildImage();
  upstream = new FakeUpstream();
  await upstream.start();
  let features = ["stt", "stt-live", "tts"];
  upstream.leaseSpec = () => ({ sub: "lic-e2e", exp: Math.floor(Date.now() / 1000) + 3600, features });
  proxy = await ProxyProcess.start(build, {
    STATE_DIR: tempDir("e2e"),
    LICENSE_SERVER_URL: upstream.url,
    LICENSE_KEY: upstream.licenseKey,
    LICENSE_PUBLIC_KEY: upstream.key.publicPem,
    LICENSE_RENEW_INTERVAL_SECONDS: "0.5",
    USAGE_UPLOAD_INTERVAL_SECONDS: "0.2",
  });
  const proxyPort = proxy.port;
  await waitFor("a lease", async () => (await health(proxyPort)).body.license_valid === true);
  const base = await startServer(build, `http://127.0.0.1:${proxyPort}`);
  await waitFor("the server to be ready", async () => (await fetch(`${base}/health/ready`)).status === 200, 60_000);
  const headers = { authorization: `Bearer ${API_KEY}` };

  // Test audio from the server's own speech endpoint: that request is one usage record too (TTS).
  const text = "license proxy end to end";
  const speech = await fetch(`${base}/v1/audio/speech`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify({ model: "tts-1", input: text, response_format: "wav" }) });
  expect(speech.status).toBe(200);
  const wav = Buffer.from(await speech.arrayBuffer());
  await waitFor("the speech usage record upstream", () => upstream.records.size === 1);
  const [ttsRecord] = [...upstream.records.values()];
  // 16-bit mono, streamed (the data chunk's size field is a placeholder): the bytes after it over twice the sample rate.
  const wavSeconds = (wav.length - (wav.indexOf("data", 12, "latin1") + 8)) / (wav.readUInt32LE(24) * 2);
  expect(ttsRecord).toMatchObject({ status_code: 200, characters: text.length, features: expect.arrayContaining(["tts"]) });
  expect(ttsRecord.audio_seconds).toBeCloseTo(wavSeconds, 1);

  const form = new FormData();
  form.append("file", new Blob([wav]), "speech.wav");
  form.append("model", "whisper-1");
  const stt = await fetch(`${base}/v1/audio/transcriptions`, { method: "POST", headers, body: form });
  expect(stt.status).toBe(200);
  await waitFor("the transcription usage record upstream", () => upstream.records.size === 2);
  // Nothing is left to send again once both hops have settled: the server holds no unacknowledged record and the proxy's spool is empty.
  await waitFor("the server's usage records acknowledged", async () => (await metricValue(base, "inference_usage_records_pending")) === 0);
  await waitFor("the proxy's spool uploaded", async () => (await health(proxyPort)).body.spool_depth === 0);
  expect(upstream.records.size).toBe(2);
  expect(upstream.duplicateUploads).toBe(0);
  const sttRecord = [...upstream.records.values()].find((r) => r.id !== ttsRecord.id);
  expect(sttRecord).toMatchObject({ status_code: 200, characters: 0, features: expect.arrayContaining(["stt"]) });
  expect(sttRecord?.audio_seconds).toBeCloseTo(wavSeconds, 1);
  expect(Object.keys(sttRecord ?? {}).sort()).toEqual(["audio_seconds", "characters", "features", "id", "model", "status_code", "timestamp"]);

  // The vendor drops speech-to-text from the license: the proxy's next lease says so, the server refuses with the reason.
  features = ["tts"];
  await waitFor(
    "the server to refuse transcriptions",
    async () => {
      const f = new FormData();
      f.append("file", new Blob([wav]), "speech.wav");
      f.append("model", "whisper-1");
      const r = await fetch(`${base}/v1/audio/transcriptions`, { method: "POST", headers, body: f });
      const body = await r.text();
      return r.status === 403 ? body : undefined;
    },
    60_000,
    300,
  ).then((body) => {
    const parsed = JSON.parse(body) as { error: { code: string; message: string } };
    expect(parsed.error.code).toBe("NOT_ENTITLED");
    expect(parsed.error.message).toContain('does not include the feature "stt"');
  });
});
