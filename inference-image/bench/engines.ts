/**
 * Engine benchmark, through the worker pool as the API uses it (one worker, one request at a time):
 *   npm run bench:engines -w inference-image
 * STT real-time factor on a 5 s clip, TTS time to first chunk for a 10-word sentence and TTS real-time
 * factor, and word error rate over ten Flite-synthesized sentences. Medians of RUNS runs after a warm-up.
 */
import os from "node:os";
import { createSpeech, engineConfigFromEnv } from "../src/engines";
import { SENTENCES, synthesizeAll, toFloat, wordErrorRate } from "../test/engines/helpers";

const RUNS = Number(process.env.RUNS ?? 9);
const TEN_WORDS = "please call stella and ask her to bring these things";

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

async function main(): Promise<void> {
  const started = performance.now();
  // The built-in engines with the search settings the environment gives (POCKETSPHINX_*), as the server reads them.
  const config = engineConfigFromEnv({ ...process.env, STT_ENGINE: "pocketsphinx", TTS_ENGINE: "flite", WORKERS: "1" });
  const speech = await createSpeech(config);
  const startupS = (performance.now() - started) / 1000;

  // A 5 s clip of continuous speech: sentences back to back, cut at exactly 5 s.
  const speechAudio: number[] = [];
  for (const s of SENTENCES) {
    if (speechAudio.length >= 5 * 16000) break;
    speechAudio.push(...(await synthesizeAll(speech, s)));
  }
  const clip = toFloat(Int16Array.from(speechAudio.slice(0, 5 * 16000)));

  const sttRtf: number[] = [];
  for (let i = 0; i <= RUNS; i++) {
    const t = performance.now();
    await speech.transcribe(clip);
    if (i > 0) sttRtf.push((performance.now() - t) / 1000 / 5);
  }

  const firstChunkMs: number[] = [];
  const ttsRtf: number[] = [];
  for (let i = 0; i <= RUNS; i++) {
    const t = performance.now();
    let first = 0;
    let samples = 0;
    for await (const chunk of speech.synthesize(TEN_WORDS)) {
      if (first === 0) first = performance.now() - t;
      samples += chunk.length;
    }
    if (i > 0) {
      firstChunkMs.push(first);
      ttsRtf.push((performance.now() - t) / 1000 / (samples / 16000));
    }
  }

  const perSentence: { sentence: string; hypothesis: string; wer: number }[] = [];
  let errors = 0;
  let refWords = 0;
  for (const sentence of SENTENCES) {
    const t = await speech.transcribe(toFloat(await synthesizeAll(speech, sentence)));
    const wer = wordErrorRate(sentence, t.text);
    const n = sentence.split(" ").length;
    errors += wer * n;
    refWords += n;
    perSentence.push({ sentence, hypothesis: t.text, wer: round(wer) });
  }
  await speech.close();

  const summary = {
    machine: { cpus: os.availableParallelism(), loadavg1m: round(os.loadavg()[0], 2) },
    pocketsphinx: config.stt.pocketsphinx,
    runs: RUNS,
    startupS: round(startupS, 2),
    stt: { clipS: 5, rtfMedian: round(median(sttRtf)), rtfMin: round(Math.min(...sttRtf)), rtfMax: round(Math.max(...sttRtf)) },
    tts: {
      firstChunkMsMedian: round(median(firstChunkMs), 1),
      firstChunkMsMin: round(Math.min(...firstChunkMs), 1),
      firstChunkMsMax: round(Math.max(...firstChunkMs), 1),
      rtfMedian: round(median(ttsRtf)),
    },
    wer: { sentences: SENTENCES.length, overall: round(errors / refWords), perSentence },
  };
  process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
  process.stdout.write(
    [
      "",
      "| measure | median | min | max |",
      "|---|---|---|---|",
      `| STT real-time factor, 5 s clip | ${summary.stt.rtfMedian} | ${summary.stt.rtfMin} | ${summary.stt.rtfMax} |`,
      `| TTS first chunk, 10 words (ms) | ${summary.tts.firstChunkMsMedian} | ${summary.tts.firstChunkMsMin} | ${summary.tts.firstChunkMsMax} |`,
      `| TTS real-time factor | ${summary.tts.rtfMedian} | | |`,
      `| WER over ${SENTENCES.length} Flite sentences | ${(summary.wer.overall * 100).toFixed(1)}% | | |`,
      `(load average ${summary.machine.loadavg1m} on ${summary.machine.cpus} CPUs)`,
      "",
    ].join("\n"),
  );
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
