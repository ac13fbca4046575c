/**
 * Starts the server exactly as the image does: `node dist/server/main.js` from the output of
 * `npm run build -w inference-image`, which is what the Dockerfile copies. Also checks local-mode key
 * generation and a graceful SIGTERM with a request in flight.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { admittedTranscription } from "./helpers";

jest.setTimeout(240_000);

const imageDir = path.resolve(__dirname, "../..");
const repoRoot = path.resolve(imageDir, "..");
let child: ChildProcessWithoutNullStreams | undefined;

afterAll(() => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
});

function waitFor(stream: NodeJS.ReadableStream, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; got: ${text.slice(-2000)}`)), timeoutMs);
    stream.on("data", (d: Buffer) => {
      text += d.toString();
      const m = pattern.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
  });
}

it("serves from the build output the image copies, and stops cleanly on SIGTERM", async () => {
  execFileSync("npm", ["run", "build", "-w", "inference-image"], { cwd: repoRoot, stdio: "pipe" });
  expect(existsSync(path.join(imageDir, "dist/server/main.js"))).toBe(true);
  // The image's second entry point (the bin that /usr/local/bin/license-proxy runs).
  expect(existsSync(path.join(imageDir, "dist/license-proxy/cli.js"))).toBe(true);

  const env: NodeJS.ProcessEnv = { ...process.env, PORT: "0", HOST: "127.0.0.1", WORKERS: "1", LOG_LEVEL: "info" };
  delete env.API_KEYS;
  delete env.API_KEYS_FILE;
  delete env.LICENSE_PROXY_URL;
  child = spawn(process.execPath, ["dist/server/main.js"], { cwd: imageDir, env });
  const exited = new Promise<number | null>((resolve) => child!.on("exit", (code) => resolve(code)));
  const [, key] = await waitFor(child.stderr, /generated an API key[^\n]*\n\s*\n\s*(\S+)/, 60_000);
  const [listening] = await waitFor(child.stdout, /\{[^\n]*"msg":"listening"[^\n]*\}/, 120_000);
  const { port, mode } = JSON.parse(listening) as { port: number; mode: string };
  expect(mode).toBe("local");
  const base = `http://127.0.0.1:${port}`;
  const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };

  expect((await fetch(`${base}/health/ready`)).status).toBe(200);
  expect((await fetch(`${base}/v1/models`)).status).toBe(401);
  const speech = await fetch(`${base}/v1/audio/speech`, { method: "POST", headers, body: JSON.stringify({ model: "tts-1", input: "testing the built server", response_format: "wav" }) });
  expect(speech.status).toBe(200);
  const wav = Buffer.from(await speech.arrayBuffer());
  expect(wav.toString("latin1", 0, 4)).toBe("RIFF");

  // SIGTERM with a transcription in flight: it still completes, then the process exits 0.
  const inFlight = await admittedTranscription(base, key, wav);
  child.kill("SIGTERM");
  const res = await inFlight.finish();
  expect(res.status).toBe(200);
  expect((JSON.parse(res.body) as { results: unknown }).results).toBeDefined();
  expect(await exited).toBe(0);
});

/** Start the built server with extra settings; resolves with its exit code and everything it printed, or the child while it runs. */
function startBuilt(extra: NodeJS.ProcessEnv): { proc: ChildProcessWithoutNullStreams; exited: Promise<number | null>; output: () => string } {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: "0", HOST: "127.0.0.1", WORKERS: "1", LOG_LEVEL: "info", API_KEYS: "provider-test-key" };
  delete env.API_KEYS_FILE;
  delete env.LICENSE_PROXY_URL;
  delete env.NVIDIA_VISIBLE_DEVICES;
  Object.assign(env, extra);
  const proc = spawn(process.execPath, ["dist/server/main.js"], { cwd: imageDir, env });
  let text = "";
  proc.stdout.on("data", (d: Buffer) => (text += d.toString()));
  proc.stderr.on("data", (d: Buffer) => (text += d.toString()));
  child = proc;
  return { proc, exited: new Promise((resolve) => proc.on("exit", (code) => resolve(code))), output: () => text };
}

const logLines = (text: string) =>
  text
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe("execution providers, as the built server reports them (runs after the build above)", () => {
  it("STT_PROVIDER=cuda on this machine (CPU onnxruntime, no GPU) stops at start, naming both and how to get them", async () => {
    const run = startBuilt({ STT_ENGINE: "sherpa-whisper", STT_MODEL_DIR: "/nonexistent/whisper", STT_PROVIDER: "cuda" });
    expect(await run.exited).toBe(1);
    const failed = logLines(run.output()).find((l) => l.msg === "startup failed");
    expect(failed?.error).toMatch(
      /STT_PROVIDER=cuda for sherpa-whisper, but CUDA cannot run here: runtime: onnxruntime 1\.\d+\.\d+ in \S+ was built without CUDA \(its providers: CPUExecutionProvider\); GPU: no NVIDIA GPU is visible .*To fix: for the runtime, .*SHERPA_ONNX_CUDA_LIBS.*; for the GPU, .*nvidia\.com\/gpu/,
    );
  });

  it("STT_PROVIDER=cuda with the CPU-only pocketsphinx is refused by name", async () => {
    const run = startBuilt({ STT_PROVIDER: "cuda" });
    expect(await run.exited).toBe(1);
    expect(logLines(run.output()).find((l) => l.msg === "startup failed")?.error).toMatch(/STT_PROVIDER: pocketsphinx runs on the CPU only and cannot use CUDA/);
  });

  it("auto for a sherpa model logs that it chose cpu and why, before the model is looked at", async () => {
    const run = startBuilt({ STT_ENGINE: "sherpa-whisper", STT_MODEL_DIR: "/nonexistent/whisper", STT_PROVIDER: "auto" });
    expect(await run.exited).toBe(1);
    const lines = logLines(run.output());
    expect(lines.find((l) => l.msg === "execution provider" && l.kind === "stt")).toMatchObject({
      engine: "sherpa-whisper",
      requested: "auto",
      provider: "cpu",
      reason: expect.stringMatching(/^STT_PROVIDER=auto chose cpu: runtime: .*built without CUDA/),
    });
    expect(lines.find((l) => l.msg === "startup failed")?.error).toMatch(/STT_MODEL_DIR=\/nonexistent\/whisper: cannot read the model directory/);
  });

  it("auto reports cpu on /v1/models, /health/ready and /metrics, and a held GPU left idle is a warning", async () => {
    const run = startBuilt({ STT_PROVIDER: "auto", TTS_PROVIDER: "auto", NVIDIA_VISIBLE_DEVICES: "all" });
    const [listening] = await waitFor(run.proc.stdout, /\{[^\n]*"msg":"listening"[^\n]*\}/, 120_000);
    const base = `http://127.0.0.1:${(JSON.parse(listening) as { port: number }).port}`;
    const lines = logLines(run.output());
    expect(lines.filter((l) => l.msg === "execution provider").map((l) => [l.kind, l.provider, l.reason])).toEqual([
      ["stt", "cpu", "pocketsphinx is a CPU engine"],
      ["tts", "cpu", "flite is a CPU engine"],
    ]);
    expect(lines.find((l) => l.level === "warn" && /holds a GPU/.test(String(l.msg)))?.msg).toMatch(/NVIDIA_VISIBLE_DEVICES=all.* but every engine runs on the CPU/);

    const models = (await (await fetch(`${base}/v1/models`, { headers: { authorization: "Bearer provider-test-key" } })).json()) as { data: { id: string; engine?: string; provider?: string }[] };
    expect(models.data.filter((m) => m.engine).map((m) => [m.id, m.engine, m.provider])).toEqual([
      ["pocketsphinx-en-us", "pocketsphinx", "cpu"],
      ["flite", "flite", "cpu"],
    ]);
    const ready = (await (await fetch(`${base}/health/ready`)).json()) as { engines: unknown };
    expect(ready.engines).toEqual([
      { model: "pocketsphinx-en-us", kind: "stt", engine: "pocketsphinx", provider: "cpu" },
      { model: "flite", kind: "tts", engine: "flite", provider: "cpu" },
    ]);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('inference_model_info{model="pocketsphinx-en-us",engine="pocketsphinx",provider="cpu"} 1');
    expect(metrics).toContain('inference_model_info{model="flite",engine="flite",provider="cpu"} 1');
    run.proc.kill("SIGTERM");
    expect(await run.exited).toBe(0);
  });
});

// Runs the build output the test above made.
it("does not start on a teams document that does not parse, and says which field is wrong", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "teams-"));
  try {
    const file = path.join(dir, "keys");
    writeFileSync(file, JSON.stringify({ teams: [{ name: "cc", keys: [{ id: "a", sha256: "not-a-digest" }], limits: { concurrent: 0 } }] }));
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: "0", HOST: "127.0.0.1", WORKERS: "1", API_KEYS_FILE: file };
    delete env.API_KEYS;
    delete env.LICENSE_PROXY_URL;
    let failure: { status: number | null; stdout: string } | undefined;
    try {
      execFileSync(process.execPath, ["dist/server/main.js"], { cwd: imageDir, env, stdio: "pipe", timeout: 60_000 });
    } catch (err) {
      failure = { status: (err as { status: number | null }).status, stdout: String((err as { stdout: Buffer }).stdout) };
    }
    expect(failure?.status).toBe(1);
    expect(failure?.stdout).toMatch(/startup failed.*teams\[0\]\.keys\[0\]\.sha256: expected the key's SHA-256 digest.*teams\[0\]\.limits\.concurrent/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
