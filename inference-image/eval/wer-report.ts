/**
 * WER of the built-in engine on the real-speech set, per route, over HTTP and WebSocket to the server:
 *   npm run eval:wer -w inference-image [-- --routes openai-upload,live --only asterisk/ --pace 4 --json FILE]
 * The server runs in this process with its environment (eval/server.ts), so POCKETSPHINX_* and WORKERS settings
 * apply as in production. For each route: pooled WER (all errors / all reference words), mean WER over clips,
 * WER per source, and CPU seconds per audio second for that route (this process's: the server, its engine
 * threads and the small client).
 * `--write-baseline` stores the upload routes' pooled WER in real-speech/baseline.json, the figure the CI gate
 * (test/eval/real-speech.test.ts) holds the server to.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadRealSpeechSet, REAL_SPEECH_DIR, type Clip } from "./real-speech";
import { markdownReport, processCpuSeconds, round, runMain } from "./report";
import { ROUTES, transcribeAll, UPLOAD_ROUTES, type Route } from "./routes";
import { startEvalServer } from "./server";
import { countErrors, summarize } from "./wer";

export const BASELINE_FILE = path.join(REAL_SPEECH_DIR, "baseline.json");

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

interface RouteResult {
  route: Route;
  pooled: number;
  mean: number;
  bySource: Record<string, number>;
  cpuPerAudioSecond: number;
  wallS: number;
  texts: Record<string, string>;
}

async function main(): Promise<void> {
  const routes = (arg("routes")?.split(",") ?? [...ROUTES]) as Route[];
  for (const r of routes) if (!ROUTES.includes(r)) throw new Error(`--routes: unknown route "${r}"; expected some of ${ROUTES.join(", ")}`);
  const set = await loadRealSpeechSet({ only: arg("only")?.split(",") });
  const audioS = set.clips.reduce((s, c) => s + c.durationS, 0);
  const load0 = os.loadavg()[0];
  const server = await startEvalServer();
  const concurrency = Number(process.env.WORKERS ?? os.availableParallelism());
  const results: RouteResult[] = [];
  try {
    for (const route of routes) {
      const cpu0 = processCpuSeconds();
      const t0 = performance.now();
      const texts = await transcribeAll(route, { base: server.base, key: server.key, pace: Number(arg("pace") ?? 4) }, set.clips, concurrency);
      const wallS = (performance.now() - t0) / 1000;
      const cpu = processCpuSeconds() - cpu0;
      const counts = set.clips.map((c, i) => countErrors(c.reference, texts[i]));
      const sources = [...new Set(set.clips.map((c) => c.source))];
      const bySource = Object.fromEntries(sources.map((s) => [s, round(summarize(counts.filter((_, i) => set.clips[i].source === s)).pooled)]));
      const { pooled, mean } = summarize(counts);
      results.push({ route, pooled: round(pooled), mean: round(mean), bySource, cpuPerAudioSecond: round(cpu / audioS), wallS: round(wallS, 1), texts: Object.fromEntries(set.clips.map((c: Clip, i) => [c.id, texts[i]])) });
      process.stderr.write(`${route}: pooled ${round(pooled)} mean ${round(mean)} (${round(wallS, 1)} s)\n`);
    }
  } finally {
    await server.stop();
  }
  const sources = Object.keys(results[0]?.bySource ?? {});
  const settings = Object.entries(process.env).filter(([k]) => k.startsWith("POCKETSPHINX_") || k === "WORKERS").map(([k, v]) => `${k}=${v}`);
  process.stdout.write(
    markdownReport(
      `${set.clips.length} clips, ${round(audioS, 1)} s of audio; settings: ${settings.join(" ") || "defaults"}`,
      load0,
      ["route", "WER pooled", "WER mean over clips", ...sources.map((s) => `${s} (pooled)`), "CPU s per audio s"],
      results.map((r) => [r.route, r.pooled, r.mean, ...sources.map((s) => r.bySource[s]), r.cpuPerAudioSecond]),
    ),
  );
  const json = arg("json");
  if (json) fs.writeFileSync(json, JSON.stringify({ clips: set.clips.length, audioS, settings, results }, null, 2));
  if (process.argv.includes("--write-baseline")) {
    const uploads = results.filter((r) => UPLOAD_ROUTES.includes(r.route));
    fs.writeFileSync(BASELINE_FILE, `${JSON.stringify(Object.fromEntries(uploads.map((r) => [r.route, r.pooled])), null, 2)}\n`);
  }
}

runMain(main);
