/**
 * The codecs against ffmpeg's decoder of the same file (exact for lossless formats), and the streaming
 * decoders' output independent of how the bytes are chunked. Skipped without ffmpeg.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createStreamDecoder, PcmStreamDecoder } from "../../src/audio/codecs/decoders";
import { createEncoder } from "../../src/audio/codecs/encoders";
import { decodeAudio, inspectAudio, monoChunks } from "../../src/audio/upload";
import { concat } from "../engines/helpers";
import { adtsFrames } from "../server/helpers";

// Each test makes and decodes a few seconds of audio with ffmpeg and the WASM decoders: seconds on a loaded 2-core machine.
jest.setTimeout(60_000);

const HAVE_FFMPEG = spawnSync("ffmpeg", ["-version"], { stdio: "ignore" }).status === 0;
if (!HAVE_FFMPEG) console.warn("codecs.test.ts skipped: ffmpeg is needed to make and decode the reference files");
const describeWithFfmpeg = HAVE_FFMPEG ? describe : describe.skip;

let dir: string;
beforeAll(() => {
  if (HAVE_FFMPEG) dir = mkdtempSync(join(tmpdir(), "codecs-"));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A 2 s chirp plus noise, encoded by ffmpeg with these options. */
function make(name: string, options: string[]): Buffer {
  const out = join(dir, name);
  execFileSync("ffmpeg", ["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "aevalsrc=0.4*sin(2*PI*(200+400*t)*t)+0.05*(random(0)-0.5):s=16000:d=2", ...options, out]);
  return readFileSync(out);
}

/** ffmpeg's own decode of a file to mono int16 at its rate, as floats on the same scale as ours. */
function reference(name: string): Float32Array {
  const pcm = execFileSync("ffmpeg", ["-nostdin", "-v", "error", "-i", join(dir, name), "-f", "s16le", "-ac", "1", "-"], { maxBuffer: 1 << 26 });
  return Float32Array.from({ length: pcm.length / 2 }, (_, i) => pcm.readInt16LE(i * 2) / 32768);
}

async function streamDecode(container: "flac" | "webm" | "ogg" | "mp3", bytes: Buffer, chunk: number): Promise<Float32Array> {
  const d = createStreamDecoder(container);
  const parts: Float32Array[] = [];
  for (let i = 0; i < bytes.length; i += chunk) parts.push(await d.push(bytes.subarray(i, i + chunk)));
  parts.push(await d.end());
  d.free();
  return concat(...parts);
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

describeWithFfmpeg("decoders against ffmpeg", () => {
  it.each([
    ["mu-law WAV 8 kHz", "mu.wav", ["-c:a", "pcm_mulaw", "-ar", "8000"]],
    ["a-law WAV", "a.wav", ["-c:a", "pcm_alaw"]],
    ["AIFF", "a.aiff", ["-c:a", "pcm_s16be"]],
  ])("%s decodes sample-exactly", (_name, file, options) => {
    const ours = decodeAudio(make(file, options)).samples;
    const ref = reference(file);
    expect(ours.length).toBe(ref.length);
    expect(maxDiff(ours, ref)).toBe(0);
  });

  it("FLAC decodes sample-exactly, whatever the chunk size", async () => {
    const flac = make("a.flac", ["-c:a", "flac", "-sample_fmt", "s16"]);
    const ref = reference("a.flac");
    for (const chunk of [7, 1000, 65536]) {
      const ours = await streamDecode("flac", flac, chunk);
      expect(ours.length).toBe(ref.length);
      expect(maxDiff(ours, ref)).toBeLessThan(1e-7);
    }
  });

  // The Xing tag counts frames; a frame holds 1152 samples in MPEG-1 Layer III, 576 in MPEG-2/2.5.
  it.each([
    ["16 kHz (MPEG-2)", 16000],
    ["44.1 kHz (MPEG-1)", 44100],
  ])("an mp3 at %s decodes whole, and cut in half is refused as truncated", async (_name, rate) => {
    const mp3 = make(`xing-${rate}.mp3`, ["-ar", String(rate), "-c:a", "libmp3lame"]);
    const decodedSamples = async (bytes: Buffer) => {
      let n = 0;
      for await (const chunk of monoChunks(inspectAudio(bytes))) n += chunk.samples.length;
      return n;
    };
    expect(await decodedSamples(mp3)).toBeGreaterThan(1.9 * rate);
    await expect(decodedSamples(mp3.subarray(0, mp3.length >> 1))).rejects.toThrow(/truncated mp3: its header declares 2\.\d\d s/);
  });

  it("WebM/Opus, Ogg/Opus and mp3 give the same samples in 1 KiB chunks as in 64 KiB ones", async () => {
    const cases: ["webm" | "ogg" | "mp3", Buffer][] = [
      ["webm", make("a.webm", ["-c:a", "libopus"])],
      ["ogg", make("a.ogg", ["-c:a", "libopus"])],
      ["mp3", make("a.mp3", ["-c:a", "libmp3lame"])],
    ];
    for (const [container, bytes] of cases) {
      const small = await streamDecode(container, bytes, 1024);
      const large = await streamDecode(container, bytes, 65536);
      expect(small.length).toBeGreaterThan(1.9 * (container === "mp3" ? 16000 : 48000));
      expect(Array.from(small)).toEqual(Array.from(large));
    }
  });
});

describe("raw PCM streams", () => {
  it("carries a partial frame to the next chunk", async () => {
    const d = new PcmStreamDecoder({ kind: "int", bits: 16 }, 2, 8000);
    const frames = Buffer.from([0x00, 0x40, 0x00, 0x40, 0x00, 0xc0, 0x00, 0xc0]);
    const a = await d.push(frames.subarray(0, 3));
    const b = await d.push(frames.subarray(3));
    expect([...a, ...b]).toEqual([0.5, -0.5]);
  });
});

describe("AAC speech encoder (in-process)", () => {
  const RATE = 22050;
  const tone = (from: number, n: number) => Int16Array.from({ length: n }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 440 * (from + i)) / RATE)));

  it("streams ADTS frames as speech arrives, covering every sample", async () => {
    const enc = await createEncoder({ encoding: "aac", container: "none", sampleRate: RATE, bitRate: 48000 });
    expect(enc.contentType).toBe("audio/aac");
    const parts: Buffer[] = [];
    const step = RATE / 10;
    for (let i = 0; i < 20; i++) parts.push(await enc.push(tone(i * step, step)));
    const beforeEnd = parts.reduce((n, p) => n + p.length, 0);
    parts.push(await enc.end());
    expect(beforeEnd).toBeGreaterThan(0);
    const frames = adtsFrames(Buffer.concat(parts));
    // Sampling-frequency index 7 is 22050 Hz; channel configuration 1 is mono.
    expect(new Set(frames.map((f) => f.join()))).toEqual(new Set(["7,1"]));
    expect(frames.length * 1024).toBeGreaterThanOrEqual(20 * step);
    expect(frames.length * 1024).toBeLessThanOrEqual(20 * step + 3 * 1024);
  });

  it("an abandoned encoder is freed and the next one still works", async () => {
    const left = await createEncoder({ encoding: "aac", container: "none", sampleRate: RATE, bitRate: 32000 });
    await left.push(tone(0, RATE));
    left.close();
    const next = await createEncoder({ encoding: "aac", container: "none", sampleRate: RATE, bitRate: 32000 });
    const bytes = Buffer.concat([await next.push(tone(0, RATE)), await next.end()]);
    expect(adtsFrames(bytes).length).toBeGreaterThanOrEqual(RATE / 1024);
  });
});
