/**
 * Audio format costs (part of `npm run bench -w inference-image`):
 * - per upload format, the decode overhead against WAV for a 5 s clip: the upload path's decode, mix and
 *   resample (decodeUpload) timed in-process, where a ~10 ms difference is not lost in transcription noise;
 * - per speech format, TTS time to first byte at concurrency 1, over HTTP against the running server.
 * Test files are made with ffmpeg from the server's own Flite WAV.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeUpload, inspectAudio } from "../src/audio/upload";
import { ms, pct } from "./server";

const RUNS = 20;
/** Untimed runs first: V8 runs new WASM in its baseline tier and optimizes it after some calls, as a serving process has long done. */
const WARMUP = 5;

const UPLOADS: [string, string, string[]][] = [
  ["wav (PCM 16 kHz)", "a.wav", []],
  ["mp3", "a.mp3", ["-c:a", "libmp3lame", "-b:a", "48k"]],
  ["webm (opus)", "a.webm", ["-c:a", "libopus", "-b:a", "32k"]],
  ["ogg (opus)", "a.ogg", ["-c:a", "libopus", "-b:a", "32k"]],
  ["ogg (vorbis)", "v.ogg", ["-c:a", "libvorbis"]],
  ["flac", "a.flac", ["-c:a", "flac"]],
  ["wav mu-law 8 kHz", "mu.wav", ["-c:a", "pcm_mulaw", "-ar", "8000"]],
  ["m4a (AAC, ffmpeg child)", "a.m4a", ["-c:a", "aac", "-b:a", "64k"]],
];
const SPEECH_FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"];

export interface FormatRow {
  format: string;
  p50_ms: number;
  p95_ms: number;
  added_vs_wav_p50_ms?: number;
}

/** The built-in engine's rate and the server's default limit. */
const target = { sampleRate: 16000, maxSeconds: 600 };

async function decodeRows(wav5s: Buffer): Promise<FormatRow[]> {
  const dir = mkdtempSync(join(tmpdir(), "bench-formats-"));
  try {
    const source = join(dir, "source.wav");
    writeFileSync(source, wav5s);
    const rows: FormatRow[] = [];
    for (const [format, file, options] of UPLOADS) {
      const path = join(dir, file);
      execFileSync("ffmpeg", ["-nostdin", "-v", "error", "-y", "-i", source, ...options, path]);
      const bytes = readFileSync(path);
      for (let i = 0; i < WARMUP; i++) await decodeUpload(inspectAudio(bytes), target);
      const times: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const t0 = performance.now();
        await decodeUpload(inspectAudio(bytes), target);
        times.push(performance.now() - t0);
      }
      rows.push({ format, p50_ms: ms(pct(times, 50)), p95_ms: ms(pct(times, 95)) });
    }
    for (const r of rows) r.added_vs_wav_p50_ms = ms(r.p50_ms - rows[0].p50_ms);
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function firstByteRows(base: string, auth: Record<string, string>, text: string): Promise<FormatRow[]> {
  const rows: FormatRow[] = [];
  for (const format of SPEECH_FORMATS) {
    const times: number[] = [];
    for (let i = 0; i <= RUNS / 2; i++) {
      const t0 = performance.now();
      const res = await fetch(`${base}/v1/audio/speech`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ model: "tts-1", input: text, response_format: format }) });
      const reader = res.body!.getReader();
      let first: number | undefined;
      for (let r = await reader.read(); !r.done; r = await reader.read()) first ??= performance.now() - t0;
      if (res.status !== 200 || first === undefined) throw new Error(`speech ${format} failed: ${res.status}`);
      // The first run warms the encoder (WASM compile, a child's start-up): not counted.
      if (i > 0) times.push(first);
    }
    rows.push({ format, p50_ms: ms(pct(times, 50)), p95_ms: ms(pct(times, 95)) });
  }
  return rows;
}

export async function formatBench(base: string, auth: Record<string, string>, wav5s: Buffer, text: string): Promise<{ decode_5s: FormatRow[]; tts_first_byte_c1: FormatRow[] }> {
  const decode_5s = await decodeRows(wav5s);
  const tts_first_byte_c1 = await firstByteRows(base, auth, text);
  return { decode_5s, tts_first_byte_c1 };
}

export function formatTables(r: { decode_5s: FormatRow[]; tts_first_byte_c1: FormatRow[] }): string {
  return [
    "| upload format (5 s clip) | decode p50 ms | p95 ms | added vs WAV p50 ms |",
    "|---|---|---|---|",
    ...r.decode_5s.map((x) => `| ${x.format} | ${x.p50_ms} | ${x.p95_ms} | ${x.added_vs_wav_p50_ms} |`),
    "",
    "| speech format (c=1) | first byte p50 ms | p95 ms |",
    "|---|---|---|",
    ...r.tts_first_byte_c1.map((x) => `| ${x.format} | ${x.p50_ms} | ${x.p95_ms} |`),
  ].join("\n");
}
