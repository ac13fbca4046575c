/**
 * Starts the server exactly as the image does: `node dist/server/main.js` from the output of
 * `npm run build -w inference-image`, which is what the Dockerfile copies. Also checks local-mode key
 * generation and a graceful SIGTERM with a request in flight.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

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
  const inFlight = fetch(`${base}/v1/listen`, { method: "POST", headers: { authorization: `Token ${key}`, "content-type": "audio/wav" }, body: wav });
  await new Promise((r) => setTimeout(r, 100));
  child.kill("SIGTERM");
  const res = await inFlight;
  expect(res.status).toBe(200);
  expect(((await res.json()) as { results: unknown }).results).toBeDefined();
  expect(await exited).toBe(0);
});
