/**
 * The image runs compiled JavaScript (node dist/server/main.js), where the pool starts dist/engines/worker.js
 * as a plain worker; jest runs the TypeScript sources. This compiles the engines the way the build does and
 * drives them from a separate node process, so the production path is exercised too.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

jest.setTimeout(180_000);

const image = path.resolve(__dirname, "../..");
// Inside the workspace (git-ignored .tmp/) so the compiled files resolve the same node_modules.
const out = path.join(image, ".tmp", `engines-compiled-${process.pid}`);

afterAll(() => {
  fs.rmSync(out, { recursive: true, force: true });
  // Leave .tmp/ only if something else uses it.
  if (fs.existsSync(path.dirname(out)) && fs.readdirSync(path.dirname(out)).length === 0) fs.rmdirSync(path.dirname(out));
});

test("compiled engines start their workers from worker.js and serve STT and TTS", () => {
  const tsc = require.resolve("typescript/bin/tsc");
  const src = path.join(image, "src", "engines");
  execFileSync(process.execPath, [
    tsc, "--outDir", out, "--rootDir", path.join(image, "src"), "--module", "commonjs", "--target", "ES2022",
    "--moduleResolution", "node", "--resolveJsonModule", "--esModuleInterop", "--skipLibCheck", "--strict", "--types", "node",
    path.join(src, "index.ts"), path.join(src, "worker.ts"), path.join(src, "sherpa-onnx-node.d.ts"),
  ], { stdio: "pipe" });
  expect(fs.existsSync(path.join(out, "engines", "worker.js"))).toBe(true);

  const script = `
    const { createSpeech, parseEngineConfig } = require(${JSON.stringify(path.join(out, "engines", "index.js"))});
    (async () => {
      const speech = await createSpeech(parseEngineConfig({ stt: { engine: "pocketsphinx" }, tts: { engine: "flite" }, workers: 1, streamsPerWorker: 1 }));
      const chunks = [];
      for await (const c of speech.synthesize("the quick brown fox jumps over the lazy dog")) chunks.push(...c);
      const t = await speech.transcribe(Float32Array.from(chunks, (s) => s / 32768));
      await speech.close();
      process.stdout.write(JSON.stringify({ samples: chunks.length, text: t.text }));
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const result = JSON.parse(execFileSync(process.execPath, ["-e", script], { encoding: "utf8" })) as { samples: number; text: string };
  expect(result.samples).toBeGreaterThan(16000);
  expect(result.text).toMatch(/brown fox/);
});
