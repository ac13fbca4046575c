/**
 * Narrowband (telephony) accuracy of the built-in STT, through the worker pool as the API uses it:
 *   npm run bench:narrowband -w inference-image
 * Word error rate over the ten Flite sentences in three voices (slt, rms, awb): 16 kHz as synthesized,
 * then the same audio as 8 kHz mu-law (ffmpeg, as a Twilio or SIP leg carries it), decoded, upsampled
 * with the server's Resampler and transcribed in batch, and as a live stream in 20 ms frames as before this
 * change (no source rate given: a 16 kHz decoder) and after (sourceRate 8000: a narrowband decoder).
 */
import { execFileSync } from "node:child_process";
import os from "node:os";
import { createSpeech, engineConfigFromEnv } from "../src/engines";
import type { Speech, StreamEvent } from "../src/engines/types";
import { LIVE_DEFAULTS } from "../src/params/deepgram-listen";
import { resample } from "../src/audio/resample";
import { concatSamples } from "../src/shared/samples";
import { SENTENCES, synthesizeAll, toFloat, wordErrorRate } from "../test/engines/helpers";

const VOICES = ["slt", "rms", "awb"];
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

/** 16 kHz PCM through 8 kHz mu-law and back to 8 kHz floats, by ffmpeg. */
function viaMulaw8k(pcm: Int16Array): Float32Array {
  const args = ["-loglevel", "error", "-f", "s16le", "-ar", "16000", "-ac", "1", "-i", "pipe:0"];
  const mu = execFileSync("ffmpeg", [...args, "-ar", "8000", "-c:a", "pcm_mulaw", "-f", "mulaw", "pipe:1"], { input: Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength) });
  const back = execFileSync("ffmpeg", ["-loglevel", "error", "-f", "mulaw", "-ar", "8000", "-ac", "1", "-i", "pipe:0", "-f", "s16le", "pipe:1"], { input: mu });
  return toFloat(new Int16Array(back.buffer, back.byteOffset, back.byteLength / 2));
}

async function live(speech: Speech, samples: Float32Array, sourceRate: number | undefined): Promise<string> {
  // 500 ms endpointing, as when these figures were first measured (the engine's own default then).
  const session = await speech.openStream({ live: { ...LIVE_DEFAULTS, endpointing: 500 }, sourceRate });
  const events: StreamEvent[] = [];
  for (let at = 0; at < samples.length; at += 320) events.push(...(await session.push(samples.subarray(at, at + 320))));
  events.push(...(await session.finalize()));
  await session.close();
  return events.flatMap((e) => (e.kind === "result" && e.isFinal && e.transcript.text ? [e.transcript.text] : [])).join(" ");
}

async function main(): Promise<void> {
  const speech = await createSpeech(engineConfigFromEnv({ ...process.env, STT_ENGINE: "pocketsphinx", TTS_ENGINE: "flite", WORKERS: "1" }));
  const cases = ["16k batch", "8k batch", "16k live", "8k live before", "8k live after"] as const;
  const wer: Record<string, Record<string, number[]>> = {};
  const add = (voice: string, c: string, sentence: string, text: string) => ((wer[c] ??= {})[voice] ??= []).push(wordErrorRate(sentence, text));
  for (const voice of VOICES) {
    for (const sentence of SENTENCES) {
      const pcm = await synthesizeAll(speech, sentence, voice);
      const wide = toFloat(pcm);
      // A second of silence after the speech, as in a call, so the live VAD ends the utterance.
      const narrow = resample(concatSamples([viaMulaw8k(pcm), new Float32Array(8000)]), 8000, 16000);
      add(voice, "16k batch", sentence, (await speech.transcribe(wide)).text);
      add(voice, "8k batch", sentence, (await speech.transcribe(narrow)).text);
      add(voice, "16k live", sentence, await live(speech, concatSamples([wide, new Float32Array(16000)]), undefined));
      add(voice, "8k live before", sentence, await live(speech, narrow, undefined));
      add(voice, "8k live after", sentence, await live(speech, narrow, 8000));
    }
  }
  await speech.close();
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const rows = cases.map((c) => ({ case: c, ...Object.fromEntries(VOICES.map((v) => [v, round(mean(wer[c][v]), 2)])), mean: round(mean(VOICES.flatMap((v) => wer[c][v]))) }));
  process.stdout.write(
    [
      `| case | ${VOICES.join(" | ")} | mean WER |`,
      `|---|${VOICES.map(() => "---|").join("")}---|`,
      ...rows.map((r) => `| ${r.case} | ${VOICES.map((v) => (r as unknown as Record<string, number>)[v]).join(" | ")} | ${r.mean} |`),
      `(${SENTENCES.length} sentences per voice; load average ${round(os.loadavg()[0], 2)} on ${os.availableParallelism()} CPUs)`,
      "",
    ].join("\n"),
  );
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
