import { AudioError, InvalidAudioError, UnsupportedAudioError } from "../../src/audio/errors";
import { floatToInt16, rawAudio } from "../../src/audio/pcm";
import { resample, Resampler } from "../../src/audio/resample";
import { decodeAudio } from "../../src/audio/upload";
import { encodeWav, wavHeader } from "../../src/audio/wav";

function sine(freq: number, rate: number, seconds: number, amp = 0.5): Float32Array {
  const out = new Float32Array(Math.round(rate * seconds));
  for (let i = 0; i < out.length; i++) out[i] = amp * Math.sin((2 * Math.PI * freq * i) / rate);
  return out;
}

/** Amplitude of `freq` in `x` (single-bin DFT), so tests check the tone, not just the length. */
function toneAmplitude(x: Float32Array, freq: number, rate: number): number {
  let re = 0;
  let im = 0;
  for (let i = 0; i < x.length; i++) {
    re += x[i] * Math.cos((2 * Math.PI * freq * i) / rate);
    im += x[i] * Math.sin((2 * Math.PI * freq * i) / rate);
  }
  return (2 * Math.hypot(re, im)) / x.length;
}

/** An AIFF (or AIFC with `compression`) file: COMM with an 80-bit extended sample rate, then SSND. */
function aiff(opts: { bits: number; channels: number; rate: number; frames: number; data: Buffer; compression?: string }): Buffer {
  const commSize = opts.compression ? 22 : 18;
  const comm = Buffer.alloc(8 + commSize);
  comm.write("COMM", 0, "latin1");
  comm.writeUInt32BE(commSize, 4);
  comm.writeUInt16BE(opts.channels, 8);
  comm.writeUInt32BE(opts.frames, 10);
  comm.writeUInt16BE(opts.bits, 14);
  // 80-bit extended: exponent 16383 + e, 64-bit mantissa with the integer bit set.
  const e = Math.floor(Math.log2(opts.rate));
  comm.writeUInt16BE(16383 + e, 16);
  comm.writeUInt32BE(Math.round((opts.rate / 2 ** e) * 2 ** 31) >>> 0, 18);
  if (opts.compression) comm.write(opts.compression, 26, "latin1");
  const ssnd = Buffer.alloc(16);
  ssnd.write("SSND", 0, "latin1");
  ssnd.writeUInt32BE(8 + opts.data.length, 4);
  const body = Buffer.concat([comm, ssnd, opts.data]);
  const head = Buffer.alloc(12);
  head.write("FORM", 0, "latin1");
  head.writeUInt32BE(4 + body.length, 4);
  head.write(opts.compression ? "AIFC" : "AIFF", 8, "latin1");
  return Buffer.concat([head, body]);
}

function wav(opts: { tag?: number; bits: number; channels: number; rate: number; data: Buffer; dataSize?: number }): Buffer {
  const h = Buffer.alloc(44);
  h.write("RIFF", 0, "latin1");
  h.writeUInt32LE(36 + opts.data.length, 4);
  h.write("WAVE", 8, "latin1");
  h.write("fmt ", 12, "latin1");
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(opts.tag ?? 1, 20);
  h.writeUInt16LE(opts.channels, 22);
  h.writeUInt32LE(opts.rate, 24);
  h.writeUInt32LE((opts.rate * opts.channels * opts.bits) / 8, 28);
  h.writeUInt16LE((opts.channels * opts.bits) / 8, 32);
  h.writeUInt16LE(opts.bits, 34);
  h.write("data", 36, "latin1");
  h.writeUInt32LE(opts.dataSize ?? opts.data.length, 40);
  return Buffer.concat([h, opts.data]);
}

function expectAudioError(fn: () => unknown, kind: new (message: string) => AudioError, pattern: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(kind);
    expect((err as AudioError).message).toMatch(pattern);
    return;
  }
  throw new Error(`expected ${kind.name}`);
}

describe("WAV decoding", () => {
  it("decodes 16-bit stereo by averaging the channels", () => {
    const data = Buffer.alloc(8);
    data.writeInt16LE(16384, 0);
    data.writeInt16LE(-16384, 2);
    data.writeInt16LE(8192, 4);
    data.writeInt16LE(8192, 6);
    const pcm = decodeAudio(wav({ bits: 16, channels: 2, rate: 16000, data }));
    expect(pcm.sampleRate).toBe(16000);
    expect(pcm.channels).toBe(2);
    expect(Array.from(pcm.samples)).toEqual([0, 0.25]);
  });

  it("decodes float32, 24-bit and 8-bit samples", () => {
    const f = Buffer.alloc(8);
    f.writeFloatLE(0.5, 0);
    f.writeFloatLE(-0.25, 4);
    expect(Array.from(decodeAudio(wav({ tag: 3, bits: 32, channels: 1, rate: 8000, data: f })).samples)).toEqual([0.5, -0.25]);
    const i24 = Buffer.alloc(3);
    i24.writeIntLE(-4194304, 0, 3);
    expect(decodeAudio(wav({ bits: 24, channels: 1, rate: 48000, data: i24 })).samples[0]).toBeCloseTo(-0.5, 6);
    expect(decodeAudio(wav({ bits: 8, channels: 1, rate: 22050, data: Buffer.from([192]) })).samples[0]).toBeCloseTo(0.5, 6);
  });

  it("reads a streamed WAV (sizes 0xFFFFFFFF) to the end, as this server writes it", () => {
    const samples = floatToInt16(sine(440, 16000, 0.1));
    const body = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
    const pcm = decodeAudio(Buffer.concat([wavHeader(16000), body]));
    expect(pcm.samples.length).toBe(samples.length);
    expect(decodeAudio(encodeWav(samples, 16000)).samples.length).toBe(samples.length);
  });

  it("refuses truncated, empty, garbage and unsupported input as invalid or unsupported, naming the problem", () => {
    const data = Buffer.alloc(100);
    expectAudioError(() => decodeAudio(wav({ bits: 16, channels: 1, rate: 16000, data, dataSize: 10_000 })), InvalidAudioError, /truncated WAV.*10000 bytes/);
    expectAudioError(() => decodeAudio(wav({ bits: 16, channels: 1, rate: 16000, data }).subarray(0, 30)), InvalidAudioError, /truncated WAV/);
    expectAudioError(() => decodeAudio(wav({ bits: 16, channels: 1, rate: 16000, data: Buffer.alloc(0) })), InvalidAudioError, /no audio/);
    expectAudioError(() => decodeAudio(Buffer.alloc(0)), InvalidAudioError, /empty/);
    expectAudioError(() => decodeAudio(Buffer.from("hello, this is not audio at all")), UnsupportedAudioError, /not a recognised audio format.*Supported: .*WAV.*mp3/);
    expectAudioError(() => decodeAudio(wav({ bits: 16, channels: 1, rate: 96000, data })), UnsupportedAudioError, /sample rate 96000/);
    expectAudioError(() => decodeAudio(wav({ tag: 2, bits: 4, channels: 1, rate: 16000, data })), UnsupportedAudioError, /format tag 2/);
    expectAudioError(() => decodeAudio(Buffer.alloc(64), "flac"), InvalidAudioError, /encoding=flac but the body is not a FLAC/);
    expectAudioError(() => decodeAudio(aiff({ bits: 16, channels: 1, rate: 16000, frames: 100, data: Buffer.alloc(50) })), InvalidAudioError, /truncated AIFF/);
  });

  it("decodes G.711 raw and in WAV (mu-law tag 7, a-law tag 6) with the reference tables", () => {
    // mu-law 0xFF and a-law 0xD5 are the codes nearest zero; 0x80 (mu-law) is the largest positive code.
    const mu = decodeAudio(Buffer.from([0xff, 0x80]), rawAudio("mulaw", 8000));
    expect(mu.samples[0]).toBeCloseTo(0, 3);
    expect(mu.samples[1]).toBeCloseTo(32124 / 32768, 4);
    const muWav = decodeAudio(wav({ tag: 7, bits: 8, channels: 1, rate: 8000, data: Buffer.from([0x80, 0x00]) }));
    expect(Array.from(muWav.samples)).toEqual([32124 / 32768, -32124 / 32768]);
    const aWav = decodeAudio(wav({ tag: 6, bits: 8, channels: 1, rate: 8000, data: Buffer.from([0xd5, 0xaa]) }));
    expect(aWav.samples[0]).toBeCloseTo(8 / 32768, 6);
    expect(aWav.samples[1]).toBeCloseTo(32256 / 32768, 4);
    const l32 = decodeAudio(Buffer.from([0, 0, 0, 0x40, 0, 0, 0, 0xc0]), rawAudio("linear32", 16000));
    expect(Array.from(l32.samples)).toEqual([0.5, -0.5]);
  });

  it("decodes AIFF (big-endian PCM) and AIFC sowt (little-endian)", () => {
    const be = Buffer.from([0x40, 0x00, 0xc0, 0x00]);
    const pcm = decodeAudio(aiff({ bits: 16, channels: 1, rate: 22050, frames: 2, data: be }));
    expect(pcm.sampleRate).toBe(22050);
    expect(Array.from(pcm.samples)).toEqual([0.5, -0.5]);
    const le = Buffer.from([0x00, 0x40, 0x00, 0xc0]);
    expect(Array.from(decodeAudio(aiff({ bits: 16, channels: 1, rate: 44100, frames: 2, data: le, compression: "sowt" })).samples)).toEqual([0.5, -0.5]);
  });

  it("takes a headerless linear16 body that starts like an MPEG frame sync as the PCM it was declared to be", () => {
    // -29 as little-endian int16 is FF E3 ...: a bare-sync sniff would call it mp3.
    const pcm = decodeAudio(Buffer.from([0xe3, 0xff, 0xe3, 0xff]), rawAudio("linear16", 16000));
    expect(pcm.samples[0]).toBeCloseTo(-29 / 32768, 6);
  });

  it("decodes raw linear16 with a declared rate", () => {
    const pcm = decodeAudio(Buffer.from([0x00, 0x40, 0x00, 0xc0]), rawAudio("linear16", 8000));
    expect(pcm.sampleRate).toBe(8000);
    expect(Array.from(pcm.samples)).toEqual([0.5, -0.5]);
  });
});

describe("Resampler", () => {
  it.each([
    [48000, 16000],
    [44100, 16000],
    [8000, 16000],
    [16000, 24000],
  ])("keeps a 440 Hz tone at its amplitude from %i Hz to %i Hz, with the right length", (from, to) => {
    const out = resample(sine(440, from, 1), from, to);
    expect(Math.abs(out.length - to)).toBeLessThanOrEqual(2);
    expect(toneAmplitude(out.subarray(to / 10, out.length - to / 10), 440, to)).toBeCloseTo(0.5, 1);
  });

  it("removes content above the new Nyquist instead of aliasing it (48 kHz -> 16 kHz)", () => {
    // 11 kHz would alias to 5 kHz at 16 kHz without the low-pass.
    const out = resample(sine(11000, 48000, 1), 48000, 16000);
    expect(toneAmplitude(out.subarray(1600, 14400), 5000, 16000)).toBeLessThan(0.02);
  });

  it("gives the same samples whether fed whole or in uneven chunks (live streams join cleanly)", () => {
    const input = sine(300, 44100, 0.5);
    const whole = resample(input, 44100, 16000);
    const r = new Resampler(44100, 16000);
    const parts: number[] = [];
    for (let i = 0; i < input.length; i += 1237) parts.push(...r.process(input.subarray(i, i + 1237)));
    parts.push(...r.flush());
    expect(parts.length).toBe(whole.length);
    for (let i = 0; i < whole.length; i += 97) expect(parts[i]).toBeCloseTo(whole[i], 5);
  });
});
