/**
 * PCM: the sample formats this server reads (integer, float, G.711), their decoding to mono float32, the
 * conversions between float and 16-bit samples, and the rate and channel bounds every input is held to.
 */
import { alaw, mulaw } from "alawmulaw";

/** Lowest and highest input sample rates (Hz): telephony to studio. */
export const MIN_RATE = 8000;
export const MAX_RATE = 48000;
/** Most channels an input may carry (they are mixed to mono). */
export const MAX_CHANNELS = 8;

/** Headerless encodings by their Deepgram names (flac and opus name containers, which carry their own header). */
export const RAW_ENCODINGS = ["linear16", "linear32", "mulaw", "alaw"] as const;
export type RawEncoding = (typeof RAW_ENCODINGS)[number];

export const SUPPORTED_INPUT =
  "containers detected by their bytes: WAV (PCM 8/16/24/32-bit, float 32/64-bit, mu-law, a-law), AIFF/AIFC, mp3, " +
  "ogg (opus, vorbis, flac), flac, webm/matroska (opus; vorbis through ffmpeg), mp4/m4a (AAC, through ffmpeg); " +
  `or headerless ${RAW_ENCODINGS.join("|")} at a declared sample rate (${MIN_RATE}-${MAX_RATE}) and channel count (1-${MAX_CHANNELS})`;

export type SampleFormat =
  | { kind: "int"; bits: 8 | 16 | 24 | 32; bigEndian?: boolean }
  | { kind: "float"; bits: 32 | 64; bigEndian?: boolean }
  | { kind: "mulaw"; bits: 8 }
  | { kind: "alaw"; bits: 8 };

/** Headerless audio as its sender declared it. */
export interface RawAudio {
  format: SampleFormat;
  sampleRate: number;
  channels: number;
}

const RAW_FORMATS: Record<RawEncoding, SampleFormat> = {
  linear16: { kind: "int", bits: 16 },
  linear32: { kind: "int", bits: 32 },
  mulaw: { kind: "mulaw", bits: 8 },
  alaw: { kind: "alaw", bits: 8 },
};

/** A headerless stream's shape from its declared encoding, rate and channels (the API checked their bounds). */
export function rawAudio(encoding: RawEncoding, sampleRate: number, channels = 1): RawAudio {
  return { format: RAW_FORMATS[encoding], sampleRate, channels };
}

/** Bytes in one frame (one sample of every channel). */
export const frameBytes = (format: SampleFormat, channels: number): number => (format.bits / 8) * channels;

/** G.711 expansions, tabulated once from the reference codec: a lookup per sample. */
const G711 = { mulaw: mulaw.decode(Uint8Array.from({ length: 256 }, (_, i) => i)), alaw: alaw.decode(Uint8Array.from({ length: 256 }, (_, i) => i)) };

function sampleReader(b: Buffer, format: SampleFormat): (offset: number) => number {
  if (format.kind === "mulaw" || format.kind === "alaw") {
    const table = G711[format.kind];
    return (o) => table[b[o]] / 32768;
  }
  const be = format.bigEndian === true;
  if (format.kind === "float") {
    if (format.bits === 32) return be ? (o) => b.readFloatBE(o) : (o) => b.readFloatLE(o);
    return be ? (o) => b.readDoubleBE(o) : (o) => b.readDoubleLE(o);
  }
  switch (format.bits) {
    case 8:
      // AIFF's 8-bit samples are signed; WAV's are unsigned, centred on 128.
      return be ? (o) => b.readInt8(o) / 128 : (o) => (b[o] - 128) / 128;
    case 16:
      return be ? (o) => b.readInt16BE(o) / 32768 : (o) => b.readInt16LE(o) / 32768;
    case 24:
      return be ? (o) => b.readIntBE(o, 3) / 8388608 : (o) => b.readIntLE(o, 3) / 8388608;
    default:
      return be ? (o) => b.readInt32BE(o) / 2147483648 : (o) => b.readInt32LE(o) / 2147483648;
  }
}

/** Decode interleaved PCM frames to mono float32 (channels averaged). Trailing partial frames are ignored. */
export function pcmToMono(bytes: Buffer, fmt: { format: SampleFormat; channels: number }): Float32Array {
  const bytesPerSample = fmt.format.bits / 8;
  const size = frameBytes(fmt.format, fmt.channels);
  const frames = Math.floor(bytes.length / size);
  const out = new Float32Array(frames);
  const read = sampleReader(bytes, fmt.format);
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    const base = f * size;
    for (let c = 0; c < fmt.channels; c++) sum += read(base + c * bytesPerSample);
    out[f] = sum / fmt.channels;
  }
  return out;
}

export function floatToInt16(samples: Float32Array): Int16Array {
  const out = new Int16Array(samples.length);
  // Same scale as int16ToFloat (x / 32768), so PCM16 round-trips exactly.
  for (let i = 0; i < samples.length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32768)));
  return out;
}

export function int16ToFloat(samples: Int16Array): Float32Array {
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = samples[i] / 32768;
  return out;
}

export function int16ToBuffer(samples: Int16Array): Buffer {
  // Copy rather than alias: chunks from a worker may share a larger buffer, and endianness must be LE.
  const out = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i], i * 2);
  return out;
}
