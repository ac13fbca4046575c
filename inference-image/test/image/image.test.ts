/**
 * The built image, run as a user runs it: its own user (uid 1000), a read-only root filesystem with a
 * tmpfs /tmp and nothing else writable, reached through a published port by the stock clients.
 */
import { DeepgramClient } from "@deepgram/sdk";
import OpenAI, { toFile } from "openai";
import path from "node:path";
import { wordErrorRate } from "../engines/helpers";
import { adtsFrames, admittedTranscription, KEY, parseWav, SENTENCE, synthesizeWav } from "../server/helpers";
import { describeWithImage, IMAGE, mintOfflineLicense, podman, publishedPort, removeDir, RUN_LIMITS, sharedDir, waitFor } from "./podman";

jest.setTimeout(240_000);

/** What the tests hold the image to: only /tmp (a tmpfs) is writable. */
const READ_ONLY = ["--read-only", "--read-only-tmpfs=false", "--tmpfs", "/tmp:rw,mode=1777"];
const suffix = `${process.pid}-${Date.now()}`;

describeWithImage("the inference image", ["podman"], () => {
  const server = `vs-image-server-${suffix}`;
  const proxy = `vs-image-proxy-${suffix}`;
  const dirs: string[] = [];
  let base = "";

  beforeAll(async () => {
    podman(["run", "-d", "--name", server, ...RUN_LIMITS, ...READ_ONLY, "-p", "127.0.0.1::8080", "-e", `API_KEYS=${KEY}`, "-e", "WORKERS=1", IMAGE]);
    base = `http://127.0.0.1:${publishedPort(server, 8080)}`;
    await waitFor("the server to be ready", async () => (await fetch(`${base}/health/ready`)).ok);
  });

  afterAll(() => {
    for (const name of [server, proxy]) podman(["rm", "-f", "-t", "0", name], { allowFail: true });
    dirs.forEach(removeDir);
  });

  it("runs as uid 1000 and can write to /tmp only", () => {
    const probe = "id -u; for d in / /app /app/inference-image /home/node /var/lib/license-proxy /etc; do touch $d/.w 2>/dev/null && echo writable $d; done; touch /tmp/.w && echo tmp-ok";
    expect(podman(["exec", server, "sh", "-c", probe]).stdout.trim().split("\n")).toEqual(["1000", "tmp-ok"]);
  });

  it("serves the stock openai client: a transcription and speech", async () => {
    const client = new OpenAI({ apiKey: KEY, baseURL: `${base}/v1`, maxRetries: 0 });
    const wav = await synthesizeWav(base, SENTENCE);
    const t = await client.audio.transcriptions.create({ file: await toFile(wav, "speech.wav"), model: "whisper-1" });
    expect(wordErrorRate(SENTENCE, t.text)).toBeLessThanOrEqual(0.25);
    const speech = await client.audio.speech.create({ model: "tts-1", voice: "alloy", input: "hello from the container", response_format: "wav" });
    const audio = parseWav(Buffer.from(await speech.arrayBuffer()));
    expect(audio.samples.length / audio.sampleRate).toBeGreaterThan(0.8);
  });

  it("serves the stock @deepgram/sdk client: a transcription and speech", async () => {
    const client = new DeepgramClient({ apiKey: KEY, baseUrl: base });
    const wav = await synthesizeWav(base, SENTENCE);
    const res = await client.listen.v1.media.transcribeFile(wav, { model: "nova-3" });
    if (!("results" in res)) throw new Error("expected a synchronous result");
    expect(wordErrorRate(SENTENCE, res.results.channels[0].alternatives?.[0].transcript ?? "")).toBeLessThanOrEqual(0.25);
    const speech = await client.speak.v1.audio.generate({ text: "hello from the container", model: "aura-2-thalia-en", encoding: "linear16", container: "wav" });
    expect(parseWav(Buffer.from(await speech.arrayBuffer())).samples.length).toBeGreaterThan(16000);
  });

  it("has no ffmpeg, yet speaks aac (ADTS, encoded in-process); an mp4 upload gets 415 saying ffmpeg is needed", async () => {
    expect(podman(["exec", server, "sh", "-c", "command -v ffmpeg || echo none"]).stdout.trim()).toBe("none");
    const client = new OpenAI({ apiKey: KEY, baseURL: `${base}/v1`, maxRetries: 0 });
    const speech = await client.audio.speech.create({ model: "tts-1", voice: "alloy", input: "hello from the container", response_format: "aac" });
    expect(adtsFrames(Buffer.from(await speech.arrayBuffer())).length).toBeGreaterThan(10);
    const mp4 = Buffer.concat([Buffer.from("\u0000\u0000\u0000\u0018ftypM4A ", "latin1"), Buffer.alloc(4096)]);
    const res = await fetch(`${base}/v1/listen`, { method: "POST", headers: { authorization: `Token ${KEY}`, "content-type": "audio/mp4" }, body: mp4 });
    expect(res.status).toBe(415);
    expect(JSON.stringify(await res.json())).toMatch(/ffmpeg/);
  });

  it("passes its own HEALTHCHECK", () => {
    expect(podman(["healthcheck", "run", server], { allowFail: true })).toMatchObject({ code: 0 });
    // The same check in a container where nothing listens: unhealthy (exit 1), not an error.
    const idle = `vs-image-idle-${suffix}`;
    try {
      podman(["run", "-d", "--name", idle, ...RUN_LIMITS, ...READ_ONLY, IMAGE, "sleep", "300"]);
      expect(podman(["healthcheck", "run", idle], { allowFail: true })).toMatchObject({ code: 1, stdout: expect.stringContaining("unhealthy") });
    } finally {
      podman(["rm", "-f", "-t", "0", idle], { allowFail: true });
    }
  });

  it("starts the license-proxy entry point, which answers /health with an offline license and passes the same HEALTHCHECK", async () => {
    const dir = sharedDir("vs-image-license-");
    dirs.push(dir);
    const minted = mintOfflineLicense(dir, "lic-image-test");
    podman([
      "run", "-d", "--name", proxy, ...RUN_LIMITS, ...READ_ONLY, "-p", "127.0.0.1::3369",
      "-v", `${dir}:/license:ro`,
      "-e", `LICENSE_FILE=/license/${path.basename(minted.license)}`,
      "-e", `LICENSE_PUBLIC_KEY_FILE=/license/${path.basename(minted.publicKey)}`,
      // As the LicenseProxy construct and compose.yaml set it: the image's PORT is the server's.
      "-e", "PORT=3369",
      "-e", "STATE_DIR=/tmp/license-proxy",
      IMAGE, "license-proxy", "serve",
    ]);
    const url = `http://127.0.0.1:${publishedPort(proxy, 3369)}/health`;
    const health = await waitFor("the license proxy", async () => {
      const res = await fetch(url);
      return res.ok && ((await res.json()) as Record<string, unknown>);
    });
    expect(health).toMatchObject({ status: "ok", mode: "offline", license_valid: true, license_id: "lic-image-test" });
    expect(podman(["healthcheck", "run", proxy], { allowFail: true })).toMatchObject({ code: 0 });
  });

  it("lets a request in flight finish on SIGTERM, then exits 0", async () => {
    const wav = await synthesizeWav(base, `${SENTENCE} ${SENTENCE} ${SENTENCE}`);
    const inFlight = await admittedTranscription(base, KEY, wav);
    podman(["kill", "--signal", "TERM", server]);
    const res = await inFlight.finish();
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body) as { results: { channels: { alternatives: { transcript: string }[] }[] } };
    expect(body.results.channels[0].alternatives[0].transcript.length).toBeGreaterThan(20);
    expect(podman(["wait", server]).stdout.trim()).toBe("0");
  });
});
