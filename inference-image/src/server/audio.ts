/**
 * Audio in and out of the API. Engines only ever see mono float32 at their own rate (the `Speech` seam),
 * so every format conversion lives here and in ./codecs: PCM-family decoding (WAV, AIFF, raw linear/G.711),
 * channel mixing, resampling, WAV writing. Compressed formats (mp3, ogg, flac, webm, mp4) are in ./codecs.
 */
import { alaw, mulaw } from "alawmulaw";
import { HttpError } from "../shared/http";
import { concatSamples } from "../shared/samples";
import { type Container, sniffContainer } from "./codecs/detect";

const MIN_RATE = 8000;
const MAX_RATE = 48000;
const MAX_CHANNELS = 8;

export const SUPPORTED_INPUT =
  "containers detected by their bytes: WAV (PCM 8/16/24/32-bit, float 32/64-bit, mu-law, a-law), AIFF/AIFC, mp3, " +
  "ogg (opus, vorbis, flac), flac, webm/matroska (opus; vorbis through ffmpeg), mp4/m4a (AAC, through ffmpeg); " +
  "or a headerless body with encoding=linear16|linear32|mulaw|alaw and sample_rate (8000-48000), channels (1-8)";

/** Deepgram `encoding` values for a headerless body (flac and opus name containers that carry their own header). */
export const RAW_ENCODINGS = ["linear16", "linear32", "mulaw", "alaw"] as const;

export interface Pcm {
  /** Mono samples in [-1, 1]. */
  samples: Float32Array;
  sampleRate: number;
  /** Channels in the source, before mixing. */
  channels: number;
}

export type SampleFormat =
  | { kind: "int"; bits: 8 | 16 | 24 | 32; bigEndian?: boolean }
  | { kind: "float"; bits: 32 | 64; bigEndian?: boolean }
  | { kind: "mulaw"; bits: 8 }
  | { kind: "alaw"; bits: 8 };

export interface WavFormat {
  format: SampleFormat;
  channels: number;
  sampleRate: number;
  blockAlign: number;
}

const unsupported = (what: string) => new HttpError(415, "unsupported_audio", `${what}. Supported: ${SUPPORTED_INPUT}`);
export const invalidAudio = (what: string) => new HttpError(400, "invalid_audio", what);
const invalid = invalidAudio;

function checkShape(channels: number, sampleRate: number, what: string): void {
  if (channels < 1 || channels > MAX_CHANNELS) throw unsupported(`unsupported ${what} channel count ${channels}`);
  if (sampleRate < MIN_RATE || sampleRate > MAX_RATE) throw unsupported(`unsupported sample rate ${sampleRate} Hz`);
}

function parseFmt(chunk: Buffer): WavFormat {
  if (chunk.length < 16) throw invalid("invalid WAV: the fmt chunk is shorter than 16 bytes");
  let tag = chunk.readUInt16LE(0);
  const channels = chunk.readUInt16LE(2);
  const sampleRate = chunk.readUInt32LE(4);
  const blockAlign = chunk.readUInt16LE(12);
  const bits = chunk.readUInt16LE(14);
  if (tag === 0xfffe) {
    // WAVE_FORMAT_EXTENSIBLE: the real format tag is the first two bytes of the SubFormat GUID.
    if (chunk.length < 40) throw invalid("invalid WAV: WAVE_FORMAT_EXTENSIBLE fmt chunk is shorter than 40 bytes");
    tag = chunk.readUInt16LE(24);
  }
  let format: SampleFormat;
  if (tag === 1 && (bits === 8 || bits === 16 || bits === 24 || bits === 32)) format = { kind: "int", bits };
  else if (tag === 3 && (bits === 32 || bits === 64)) format = { kind: "float", bits };
  else if (tag === 6 && bits === 8) format = { kind: "alaw", bits };
  else if (tag === 7 && bits === 8) format = { kind: "mulaw", bits };
  else throw unsupported(`unsupported WAV encoding (format tag ${tag}, ${bits} bits)`);
  checkShape(channels, sampleRate, "WAV");
  if (blockAlign !== channels * (bits / 8)) throw invalid("invalid WAV: block align does not match channels and bit depth");
  return { format, channels, sampleRate, blockAlign };
}

/**
 * Find the fmt and data chunks. Returns undefined when `buf` ends before the data chunk starts
 * (the caller decides whether that is a truncated file or a stream still arriving).
 */
export function parseWavHeader(buf: Buffer): { fmt: WavFormat; dataOffset: number; dataBytes: number | undefined } | undefined {
  if (buf.length < 12) return undefined;
  if (buf.toString("latin1", 0, 4) !== "RIFF" || buf.toString("latin1", 8, 12) !== "WAVE") throw invalid("not a WAV file (no RIFF/WAVE header)");
  let offset = 12;
  let fmt: WavFormat | undefined;
  while (offset + 8 <= buf.length) {
    const id = buf.toString("latin1", offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === "data") {
      if (!fmt) throw invalid("invalid WAV: the data chunk comes before the fmt chunk");
      // 0 or 0xFFFFFFFF: a streamed WAV whose writer did not know the length; read to the end.
      const dataBytes = size === 0xffffffff || size === 0 ? undefined : size;
      return { fmt, dataOffset: body, dataBytes };
    }
    if (body + size > buf.length) return undefined;
    if (id === "fmt ") fmt = parseFmt(buf.subarray(body, body + size));
    offset = body + size + (size & 1);
  }
  return undefined;
}

/** IEEE 754 80-bit extended (AIFF's sample rate field). */
function readExtended(b: Buffer, o: number): number {
  const exponent = ((b[o] & 0x7f) << 8) | b[o + 1];
  const mantissa = b.readUInt32BE(o + 2) * 2 ** 32 + b.readUInt32BE(o + 6);
  return exponent === 0 && mantissa === 0 ? 0 : mantissa * 2 ** (exponent - 16383 - 63);
}

const AIFC_COMPRESSION: Record<string, (bits: number) => SampleFormat | undefined> = {
  NONE: (bits) => intFormat(bits, true),
  twos: (bits) => intFormat(bits, true),
  sowt: (bits) => intFormat(bits, false),
  fl32: () => ({ kind: "float", bits: 32, bigEndian: true }),
  FL32: () => ({ kind: "float", bits: 32, bigEndian: true }),
  fl64: () => ({ kind: "float", bits: 64, bigEndian: true }),
  ulaw: () => ({ kind: "mulaw", bits: 8 }),
  alaw: () => ({ kind: "alaw", bits: 8 }),
};

function intFormat(bits: number, bigEndian: boolean): SampleFormat | undefined {
  return bits === 8 || bits === 16 || bits === 24 || bits === 32 ? { kind: "int", bits, bigEndian } : undefined;
}

/** AIFF and AIFC: big-endian chunks; COMM says the format, SSND holds the frames. */
function inspectAiff(buf: Buffer): EncodedAudio {
  if (buf.length < 12) throw invalid("truncated AIFF: the file ends inside its header");
  const form = buf.toString("latin1", 8, 12);
  if (form !== "AIFF" && form !== "AIFC") throw unsupported(`unsupported FORM type "${form.replace(/[^\x20-\x7e]/g, "?")}"`);
  let offset = 12;
  let comm: { channels: number; frames: number; format: SampleFormat; sampleRate: number } | undefined;
  while (offset + 8 <= buf.length) {
    const id = buf.toString("latin1", offset, offset + 4);
    const size = buf.readUInt32BE(offset + 4);
    const body = offset + 8;
    if (id === "COMM") {
      if (size < 18 || body + size > buf.length) throw invalid("invalid AIFF: the COMM chunk is truncated");
      const channels = buf.readUInt16BE(body);
      const frames = buf.readUInt32BE(body + 2);
      const bits = buf.readUInt16BE(body + 6);
      const sampleRate = Math.round(readExtended(buf, body + 8));
      const compression = form === "AIFC" && size >= 22 ? buf.toString("latin1", body + 18, body + 22) : "NONE";
      const format = AIFC_COMPRESSION[compression]?.(bits);
      if (!format) throw unsupported(`unsupported AIFF encoding (${compression.replace(/[^\x20-\x7e]/g, "?")}, ${bits} bits)`);
      checkShape(channels, sampleRate, "AIFF");
      comm = { channels, frames, format, sampleRate };
    } else if (id === "SSND") {
      if (!comm) throw invalid("invalid AIFF: the SSND chunk comes before the COMM chunk");
      if (size < 8 || body + 8 > buf.length) throw invalid("truncated AIFF: the file ends inside the SSND chunk header");
      const start = body + 8 + buf.readUInt32BE(body);
      const frameBytes = (comm.format.bits / 8) * comm.channels;
      const declared = comm.frames * frameBytes;
      const available = buf.length - start;
      if (declared > available) throw invalid(`truncated AIFF: the header declares ${declared} bytes of audio but only ${Math.max(0, available)} are present`);
      if (comm.frames === 0) throw invalid("the AIFF file contains no audio samples");
      return encoded(buf.subarray(start, start + declared), comm, comm.sampleRate);
    }
    offset = body + size + (size & 1);
  }
  throw invalid("truncated AIFF: no SSND (sound data) chunk");
}

/** G.711 expansions, tabulated once from the reference codec: a lookup per sample. */
const G711 = { mulaw: mulaw.decode(Uint8Array.from({ length: 256 }, (_, i) => i)), alaw: alaw.decode(Uint8Array.from({ length: 256 }, (_, i) => i)) };

/** Decode interleaved PCM frames to mono float32 (channels averaged). Trailing partial frames are ignored. */
export function pcmToMono(bytes: Buffer, fmt: Pick<WavFormat, "format" | "channels">): Float32Array {
  const bytesPerSample = fmt.format.bits / 8;
  const frameBytes = bytesPerSample * fmt.channels;
  const frames = Math.floor(bytes.length / frameBytes);
  const out = new Float32Array(frames);
  const read = sampleReader(bytes, fmt.format);
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    const base = f * frameBytes;
    for (let c = 0; c < fmt.channels; c++) sum += read(base + c * bytesPerSample);
    out[f] = sum / fmt.channels;
  }
  return out;
}

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

/**
 * A PCM-family request body checked and located but not yet decoded: decoding is linear in its size, so the
 * caller does it in slices (see prepareStt) instead of blocking the event loop on a large upload.
 */
export interface EncodedAudio {
  kind: "pcm";
  /** Interleaved PCM frames (whole frames only). */
  data: Buffer;
  format: Pick<WavFormat, "format" | "channels">;
  sampleRate: number;
  channels: number;
  frames: number;
}

/** A compressed body: its container named by its bytes, decoded by ./codecs as it is consumed. */
export interface CompressedAudio {
  kind: "compressed";
  container: Exclude<Container, "wav" | "aiff">;
  body: Buffer;
}

export type UploadAudio = EncodedAudio | CompressedAudio;

function encoded(data: Buffer, format: Pick<WavFormat, "format" | "channels">, sampleRate: number): EncodedAudio {
  const frameBytes = (format.format.bits / 8) * format.channels;
  const frames = Math.floor(data.length / frameBytes);
  return { kind: "pcm", data: data.subarray(0, frames * frameBytes), format: { format: format.format, channels: format.channels }, sampleRate, channels: format.channels, frames };
}

/** Mono samples of frames [from, to). */
export function framesToMono(audio: EncodedAudio, from: number, to: number): Float32Array {
  const frameBytes = (audio.format.format.bits / 8) * audio.format.channels;
  return pcmToMono(audio.data.subarray(from * frameBytes, to * frameBytes), audio.format);
}

const toPcm = (audio: EncodedAudio): Pcm => ({ samples: framesToMono(audio, 0, audio.frames), sampleRate: audio.sampleRate, channels: audio.channels });

/** Check a complete WAV file. Truncated, malformed or unsupported files are 400/415 HttpErrors. */
function inspectWav(buf: Buffer): EncodedAudio {
  const header = parseWavHeader(buf);
  if (!header) throw invalid("truncated WAV: the file ends before its audio data starts");
  const { fmt, dataOffset, dataBytes } = header;
  const available = buf.length - dataOffset;
  if (dataBytes !== undefined && dataBytes > available) {
    throw invalid(`truncated WAV: the header declares ${dataBytes} bytes of audio but only ${available} are present`);
  }
  const data = buf.subarray(dataOffset, dataOffset + (dataBytes ?? available));
  if (data.length < fmt.blockAlign) throw invalid("the WAV file contains no audio samples");
  return encoded(data, fmt, fmt.sampleRate);
}

export function parseRate(value: string | undefined, name = "sample_rate"): number {
  const rate = Number(value);
  if (!Number.isInteger(rate) || rate < MIN_RATE || rate > MAX_RATE) {
    throw new HttpError(400, "invalid_parameter", `${name} must be an integer from ${MIN_RATE} to ${MAX_RATE}`);
  }
  return rate;
}

export interface RawSpec {
  encoding: string;
  sampleRate?: string;
  channels?: string;
}

/** The sample format a headerless stream's `encoding` names, or undefined for a name that is not raw PCM. */
export function rawFormat(encoding: string): SampleFormat | undefined {
  switch (encoding) {
    case "linear16":
      return { kind: "int", bits: 16 };
    case "linear32":
      return { kind: "int", bits: 32 };
    case "mulaw":
      return { kind: "mulaw", bits: 8 };
    case "alaw":
      return { kind: "alaw", bits: 8 };
    default:
      return undefined;
  }
}

/** Check a raw (headerless) stream's parameters: its sample format, rate and channel count. */
export function parseRawSpec(raw: RawSpec): { format: SampleFormat; sampleRate: number; channels: number } {
  const format = rawFormat(raw.encoding);
  if (!format) throw unsupported(`unsupported encoding "${raw.encoding.slice(0, 32)}"`);
  const channels = raw.channels === undefined ? 1 : Number(raw.channels);
  if (!Number.isInteger(channels) || channels < 1 || channels > MAX_CHANNELS) {
    throw new HttpError(400, "invalid_parameter", `channels must be an integer from 1 to ${MAX_CHANNELS}`);
  }
  if (raw.sampleRate === undefined) throw new HttpError(400, "invalid_parameter", `encoding=${raw.encoding} needs sample_rate`);
  return { format, channels, sampleRate: parseRate(raw.sampleRate) };
}

/**
 * Check a request body. Containers are recognised by their bytes alone; a headerless body needs Deepgram's
 * `encoding` (linear16, linear32, mulaw, alaw). encoding=flac/opus name containers, which must then be there.
 */
export function inspectAudio(buf: Buffer, raw?: RawSpec): UploadAudio {
  if (buf.length === 0) throw invalid("the request body is empty: send audio");
  const container = sniffContainer(buf, !raw || rawFormat(raw.encoding) === undefined);
  if (raw && (raw.encoding === "flac" || raw.encoding === "opus")) {
    const expected = raw.encoding === "flac" ? ["flac", "ogg"] : ["ogg", "webm"];
    if (!container || !expected.includes(container)) throw invalid(`encoding=${raw.encoding} but the body is not ${raw.encoding === "flac" ? "a FLAC" : "an Ogg or WebM"} stream (no ${raw.encoding === "flac" ? "fLaC" : "OggS"} header)`);
  }
  if (container === "wav") return inspectWav(buf);
  if (container === "aiff") return inspectAiff(buf);
  if (container) return { kind: "compressed", container, body: buf };
  if (raw) {
    const spec = parseRawSpec(raw);
    const frameBytes = (spec.format.bits / 8) * spec.channels;
    if (buf.length < frameBytes) throw invalid("the request contains no audio samples");
    return encoded(buf, spec, spec.sampleRate);
  }
  throw unsupported("the body is not a recognised audio format (send a container, or a headerless body with encoding and sample_rate)");
}

/** Decode a whole PCM-family body at once (small inputs; the request path decodes in slices through prepareStt). */
export function decodeAudio(buf: Buffer, raw?: RawSpec): Pcm {
  const audio = inspectAudio(buf, raw);
  if (audio.kind !== "pcm") throw new Error(`decodeAudio handles PCM-family audio only, not ${audio.container}`);
  return toPcm(audio);
}

const KERNEL_ZEROS = 8;
const KERNEL_STEPS = 256;
/** sinc(x) * Hann window over [-KERNEL_ZEROS, KERNEL_ZEROS], tabulated: Math.sin per tap would dominate. */
const KERNEL = (() => {
  const table = new Float32Array(KERNEL_ZEROS * KERNEL_STEPS + 2);
  for (let i = 0; i < table.length; i++) {
    const x = i / KERNEL_STEPS;
    const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
    const w = x >= KERNEL_ZEROS ? 0 : 0.5 + 0.5 * Math.cos((Math.PI * x) / KERNEL_ZEROS);
    table[i] = sinc * w;
  }
  return table;
})();

/**
 * Streaming band-limited resampler (windowed sinc, low-passed at the lower Nyquist so downsampling does
 * not alias). Stateful so live streams and chunked TTS output join without clicks at chunk borders.
 */
export class Resampler {
  /** Input history; buf[0] is input sample number `base` (negative: the silence before the start). */
  private buf: Float32Array;
  private base: number;
  private produced = 0;
  private consumed = 0;
  private readonly cutoff: number;
  private readonly halfWidth: number;

  constructor(
    readonly inRate: number,
    readonly outRate: number,
  ) {
    this.cutoff = Math.min(1, outRate / inRate);
    this.halfWidth = KERNEL_ZEROS / this.cutoff;
    // Silence before the first sample, so the first output is centred on the first input.
    this.buf = new Float32Array(Math.ceil(this.halfWidth));
    this.base = -this.buf.length;
  }

  process(input: Float32Array): Float32Array {
    if (this.inRate === this.outRate) return input;
    this.append(input);
    this.consumed += input.length;
    return this.drain(false);
  }

  /** End of stream: emit the samples still held back for the kernel's right half. */
  flush(): Float32Array {
    if (this.inRate === this.outRate) return new Float32Array(0);
    this.append(new Float32Array(Math.ceil(this.halfWidth) + 1));
    return this.drain(true);
  }

  private append(input: Float32Array): void {
    const joined = new Float32Array(this.buf.length + input.length);
    joined.set(this.buf);
    joined.set(input, this.buf.length);
    this.buf = joined;
  }

  /**
   * Output n sits at input position n * inRate / outRate, computed from integers each time (not
   * accumulated), so chunked and whole input give the same samples and the same count.
   */
  private drain(final: boolean): Float32Array {
    const { buf, base, cutoff, halfWidth, inRate, outRate } = this;
    const lastAvailable = base + buf.length - 1;
    let end = Math.floor(((lastAvailable - halfWidth) * outRate) / inRate) + 1;
    if (final) end = Math.min(end, Math.ceil((this.consumed * outRate) / inRate));
    const count = Math.max(0, end - this.produced);
    const out = new Float32Array(count);
    const scale = cutoff * KERNEL_STEPS;
    for (let j = 0; j < count; j++) {
      const t = ((this.produced + j) * inRate) / outRate - base;
      const lo = Math.max(0, Math.ceil(t - halfWidth));
      const hi = Math.min(buf.length - 1, Math.floor(t + halfWidth));
      let acc = 0;
      for (let k = lo; k <= hi; k++) {
        const pos = Math.abs(t - k) * scale;
        const i = pos | 0;
        acc += buf[k] * (KERNEL[i] + (KERNEL[i + 1] - KERNEL[i]) * (pos - i));
      }
      out[j] = acc * cutoff;
    }
    this.produced += count;
    // Keep only the history the next output's kernel still needs.
    const next = (this.produced * inRate) / outRate;
    const keepFrom = Math.max(0, Math.floor(next - halfWidth) - 1 - base);
    this.buf = buf.slice(keepFrom);
    this.base = base + keepFrom;
    return out;
  }
}

export function resample(samples: Float32Array, inRate: number, outRate: number): Float32Array {
  if (inRate === outRate) return samples;
  const r = new Resampler(inRate, outRate);
  return concatSamples([r.process(samples), r.flush()]);
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

/**
 * A 44-byte WAV header: 16-bit PCM (tag 1), or 8-bit a-law (6) / mu-law (7). With `dataBytes` unknown (streaming),
 * the RIFF and data sizes are 0xFFFFFFFF, which common decoders (ffmpeg, browsers, sox, this server) read as
 * "until end of stream".
 */
export function wavHeader(sampleRate: number, dataBytes?: number, channels = 1, tag: 1 | 6 | 7 = 1): Buffer {
  const bytesPerSample = tag === 1 ? 2 : 1;
  const h = Buffer.alloc(44);
  h.write("RIFF", 0, "latin1");
  h.writeUInt32LE(dataBytes === undefined ? 0xffffffff : 36 + dataBytes, 4);
  h.write("WAVE", 8, "latin1");
  h.write("fmt ", 12, "latin1");
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(tag, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * channels * bytesPerSample, 28);
  h.writeUInt16LE(channels * bytesPerSample, 32);
  h.writeUInt16LE(bytesPerSample * 8, 34);
  h.write("data", 36, "latin1");
  h.writeUInt32LE(dataBytes === undefined ? 0xffffffff : dataBytes, 40);
  return h;
}

export function encodeWav(samples: Int16Array, sampleRate: number): Buffer {
  const data = int16ToBuffer(samples);
  return Buffer.concat([wavHeader(sampleRate, data.length), data]);
}
