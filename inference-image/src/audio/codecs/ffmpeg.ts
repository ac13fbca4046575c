/**
 * ffmpeg as a child process, only for decoding what npm has no LGPL-or-freer decoder for: AAC (mp4/m4a
 * uploads; npm's AAC decoders are FAAD2, GPL, or browser-only builds) and Vorbis in WebM. Bounded: the input
 * is a file (mp4 needs to seek), the output a pipe read with back-pressure, a wall-clock timeout kills the
 * child, and a child that dies is a 4xx for that request only.
 */
import { type ChildProcessByStdio, spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { InvalidAudioError, UnsupportedAudioError } from "../errors";

/** What is unavailable without ffmpeg: the server says so at start-up. */
export const FFMPEG_FORMATS = "mp4/m4a (AAC) and WebM/Vorbis uploads";
/** A child that takes longer than this is killed: decoding the longest allowed audio takes a few seconds. */
const TIMEOUT_MS = 60_000;

let available: boolean | undefined;

export function ffmpegAvailable(): boolean {
  available ??= spawnSync("ffmpeg", ["-version"], { timeout: 5000, stdio: "ignore" }).status === 0;
  return available;
}

function requireFfmpeg(what: string): void {
  if (!ffmpegAvailable()) throw new UnsupportedAudioError(`${what} needs ffmpeg, which this server does not have installed`);
}

type Child = ChildProcessByStdio<null, Readable, Readable>;

/** Exit code (or the killing signal) and the last of stderr, which names what ffmpeg found wrong. */
function watch(child: Child): { exited: Promise<number | string>; stderr: () => string } {
  let tail = "";
  child.stderr.on("data", (c: Buffer) => (tail = (tail + c.toString("utf8")).slice(-2000)));
  const exited = new Promise<number | string>((resolve) => {
    child.on("error", () => resolve("spawn failed"));
    child.on("close", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  return { exited, stderr: () => tail.trim().split("\n").pop()?.slice(0, 300) ?? "" };
}

/** Decode a whole file: mono float32 at `rate`, yielded as ffmpeg produces it; stopping early kills the child. */
export async function* ffmpegDecode(body: Buffer, what: string, rate: number): AsyncGenerator<Float32Array> {
  requireFfmpeg(what);
  const dir = await mkdtemp(join(tmpdir(), "decode-"));
  let child: Child | undefined;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child?.kill("SIGKILL");
  }, TIMEOUT_MS);
  try {
    const file = join(dir, "input");
    await writeFile(file, body);
    child = spawn("ffmpeg", ["-nostdin", "-v", "error", "-i", file, "-vn", "-ac", "1", "-ar", String(rate), "-f", "f32le", "pipe:1"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const { exited, stderr } = watch(child);
    let carry = Buffer.alloc(0);
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      const all = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      const whole = all.length - (all.length % 4);
      carry = Buffer.from(all.subarray(whole));
      // Copied into an aligned buffer: a pipe chunk may start at any byte offset.
      const samples = new Float32Array(whole / 4);
      Buffer.from(samples.buffer).set(all.subarray(0, whole));
      if (samples.length > 0) yield samples;
    }
    const code = await exited;
    if (timedOut) throw new InvalidAudioError(`decoding ${what} took longer than ${TIMEOUT_MS / 1000} s`);
    if (code !== 0) throw new InvalidAudioError(`invalid ${what}: ${stderr() || `the decoder exited with ${code}`}`);
  } finally {
    clearTimeout(timer);
    if (child && child.exitCode === null) child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  }
}
