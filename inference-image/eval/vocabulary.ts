/**
 * Custom vocabulary at the engine level, on the real-speech set:
 *   npm run eval:vocabulary -w inference-image
 * Every clip is transcribed in batch (one worker, the server's POCKETSPHINX_* settings) without and then with
 * the set's keyterms (manifest.json: domain words the dictionary lacks, spoken in the Asterisk prompts).
 * Reports term recall over the clips that contain a keyterm, pooled WER over those and over the whole set,
 * and the CPU seconds each pass took (process-wide, so the worker thread's decoding included).
 */
import os from "node:os";
import { createSpeech, engineConfigFromEnv } from "../src/engines";
import { loadRealSpeechSet } from "./real-speech";
import { markdownReport, processCpuSeconds, round, runMain } from "./report";
import { countErrors, normalizeWords, summarize, termRecall } from "./wer";

async function main(): Promise<void> {
  const set = await loadRealSpeechSet();
  const terms = new Set(set.keyterms.flatMap((t) => normalizeWords(t)));
  const domain = set.clips.filter((c) => normalizeWords(c.reference).some((w) => terms.has(w)));
  const speech = await createSpeech(engineConfigFromEnv({ ...process.env, STT_ENGINE: "pocketsphinx", TTS_ENGINE: "flite", WORKERS: "1", BATCH_WORKERS: "1", STREAMS_PER_WORKER: "1" }));
  const audioS = set.clips.reduce((s, c) => s + c.durationS, 0);
  const load0 = os.loadavg()[0];
  const rows: (string | number)[][] = [];
  try {
    for (const withTerms of [false, true]) {
      const vocabulary = withTerms ? { terms: set.keyterms } : undefined;
      let firstMs = 0;
      const cpu0 = processCpuSeconds();
      const texts: string[] = [];
      for (const [i, c] of set.clips.entries()) {
        const t0 = performance.now();
        texts.push((await speech.transcribe(c.samples, { vocabulary })).text);
        if (i === 0) firstMs = performance.now() - t0;
      }
      const cpu = processCpuSeconds() - cpu0;
      const pairs = set.clips.map((c, i) => ({ reference: c.reference, hypothesis: texts[i] }));
      const domainPairs = pairs.filter((_, i) => domain.includes(set.clips[i]));
      const recall = termRecall(set.keyterms, domainPairs);
      const wer = (ps: typeof pairs) => round(summarize(ps.map((p) => countErrors(p.reference, p.hypothesis))).pooled);
      rows.push([withTerms ? "with the keyterms" : "without", `${recall.found}/${recall.occurrences} = ${round(recall.recall, 2)}`, wer(domainPairs), wer(pairs), round(cpu / audioS, 3), Math.round(firstMs)]);
      for (const [i, c] of set.clips.entries()) if (domain.includes(c)) process.stderr.write(`${withTerms ? "with" : "without"} ${c.id}: ${texts[i]}\n`);
    }
  } finally {
    await speech.close();
  }
  process.stdout.write(
    markdownReport(
      `keyterms: ${set.keyterms.join(", ")}; ${domain.length} of ${set.clips.length} clips contain one`,
      load0,
      ["pass", "term recall (domain clips)", "WER pooled, domain clips", "WER pooled, whole set", "CPU s per audio s", "first clip ms (a vocabulary decoder is made)"],
      rows,
    ),
  );
}

runMain(main);
