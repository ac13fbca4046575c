/**
 * pocketsphinx batch search settings on the real-speech set, at the engine (one thread, no HTTP), for the
 * choices that have to be measured before they are made:
 *   npm run eval:settings -w inference-image [-- --profiles live,library]
 * Each profile transcribes every clip twice: its 16 kHz FLAC, and its 8 kHz mu-law copy decoded and
 * upsampled to 16 kHz by the server's resampler, as the upload path does (decoded as wideband, and with the
 * narrowband front end the live telephony decoders use: a low noise floor, no noise removal). Reports pooled
 * and mean WER and CPU seconds per audio second (this process's, which is the decoding).
 */
import os from "node:os";
import { PocketsphinxStt } from "../src/engines/pocketsphinx";
import { DEFAULT_POCKETSPHINX_MODEL_DIR, type PocketsphinxSettings } from "../src/engines/config";
import { resample } from "../src/audio/resample";
import { decodeAudio } from "../src/audio/upload";
import { loadRealSpeechSet } from "./real-speech";
import { markdownReport, processCpuSeconds, round, runMain } from "./report";
import { countErrors, summarize } from "./wer";

/** Named search settings; unset fields keep the library's defaults (maxhmmpf 30000, maxwpf -1, both passes on). */
const PROFILES: Record<string, Partial<PocketsphinxSettings>> = {
  live: { maxhmmpf: 2000, maxwpf: 10 },
  "live-no-fwdflat": { maxhmmpf: 2000, maxwpf: 10, fwdflat: false },
  mid: { maxhmmpf: 10000, maxwpf: 20 },
  library: {},
  "library-no-fwdflat": { fwdflat: false },
};

async function main(): Promise<void> {
  const i = process.argv.indexOf("--profiles");
  const names = i < 0 ? Object.keys(PROFILES) : process.argv[i + 1].split(",");
  for (const n of names) if (!PROFILES[n]) throw new Error(`--profiles: unknown profile "${n}"; expected some of ${Object.keys(PROFILES).join(", ")}`);
  const set = await loadRealSpeechSet();
  const audioS = set.clips.reduce((s, c) => s + c.durationS, 0);
  const telephony = set.clips.map((c) => {
    const audio = decodeAudio(c.telephony);
    return resample(audio.samples, audio.sampleRate, 16000);
  });
  const load0 = os.loadavg()[0];
  const rows: (string | number)[][] = [];
  for (const name of names) {
    const stt = new PocketsphinxStt(DEFAULT_POCKETSPHINX_MODEL_DIR, { maxhmmpf: 2000, maxwpf: 10 }, PROFILES[name]);
    const cases: [string, (k: number) => string][] = [
      ["16 kHz", (k) => stt.transcribe(set.clips[k].samples).text],
      ["8 kHz, wideband front end", (k) => stt.transcribe(telephony[k]).text],
      ["8 kHz, narrowband front end", (k) => stt.transcribe(telephony[k], { narrowband: true }).text],
    ];
    for (const [what, run] of cases) {
      const cpu0 = processCpuSeconds();
      const texts = set.clips.map((_, k) => run(k));
      const cpu = processCpuSeconds() - cpu0;
      const { pooled, mean } = summarize(set.clips.map((c, k) => countErrors(c.reference, texts[k])));
      rows.push([name, what, round(pooled), round(mean), round(cpu / audioS)]);
      process.stderr.write(`${rows[rows.length - 1].join(" | ")}\n`);
    }
  }
  process.stdout.write(markdownReport(`${set.clips.length} clips, ${round(audioS, 1)} s`, load0, ["batch settings", "audio", "WER pooled", "WER mean", "CPU s per audio s"], rows));
}

runMain(main);
