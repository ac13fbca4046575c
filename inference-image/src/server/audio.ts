/**
 * Audio in and out of the API. Engines only ever see mono float32 at their own rate (the `Speech` seam),
 * so every format conversion lives here: WAV/raw PCM decoding, channel mixing, resampling, WAV writing.
 */
import { HttpError } from "./errors";

const MIN_RATE = 8000;
const MAX_RATE = 48000;
const MAX_CHANNELS = 8;

export const SUPPORTED_INPUT =
  "WAV (RIFF) with PCM 8/16/24/32-bit integer or 32/64-bit float samples, 8000-48000 Hz, 1-8 channels; " +
  "or raw little-endian 16-bit PCM (linear16) with encoding=linear16 and sample_rate=8000-48000";

export interface Pcm {
  /** Mono samples in [-1, 1]. */
  samples: Float32Array;
  sampleRate: number;
  /** Channels in the source, before mixing. */
  channels: number;
}

type SampleFormat = { kind: "int"; bits: 8 | 16 | 24 | 32 } | { kind: "float"; bits: 32 | 64 };

export interface WavFormat {
  format: SampleFormat;
  channels: number;
  sampleRate: number;
  blockAlign: number;
}

const unsupported = (what: string) => new HttpError(415, "unsupported_audio", `${what}. Supported: ${SUPPORTED_INPUT}`);
const invalid = (what: string) => new HttpError(400, "invalid_audio", what);

/** Names a container by its magic bytes, so a 415 can say what was sent. */
function sniffContainer(buf: Buffer): string | undefined {
  const ascii = (start: number, end: number) => buf.subarray(start, end).toString("latin1");
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WAVE") return "wav";
  if (ascii(0, 4) === "RIFF") return "riff";
  if (ascii(0, 4) === "RF64") return "rf64";
  if (ascii(0, 3) === "ID3" || (buf.length > 1 && buf[0] === 0xff && (buf[1] & 0xe0) === 0xe0)) return "mp3";
  if (ascii(0, 4) === "OggS") return "ogg";
  if (ascii(0, 4) === "fLaC") return "flac";
  if (ascii(4, 8) === "ftyp") return "mp4";
  if (buf.length > 3 && buf.readUInt32BE(0) === 0x1a45dfa3) return "webm";
  if (ascii(0, 4) === "FORM") return "aiff";
  return undefined;
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
  else throw unsupported(`unsupported WAV encoding (format tag ${tag}, ${bits} bits)`);
  if (channels < 1 || channels > MAX_CHANNELS) throw unsupported(`unsupported WAV channel count ${channels}`);
  if (sampleRate < MIN_RATE || sampleRate > MAX_RATE) throw unsupported(`unsupported sample rate ${sampleRate} Hz`);
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
  if (format.kind === "float") return format.bits === 32 ? (o) => b.readFloatLE(o) : (o) => b.readDoubleLE(o);
  switch (format.bits) {
    case 8:
      return (o) => (b[o] - 128) / 128;
    case 16:
      return (o) => b.readInt16LE(o) / 32768;
    case 24:
      return (o) => b.readIntLE(o, 3) / 8388608;
    default:
      return (o) => b.readInt32LE(o) / 2147483648;
  }
}

/**
 * A request body checked and located but not yet decoded: decoding is linear in its size, so the
 * caller does it in slices (see prepareStt) instead of blocking the event loop on a large upload.
 */
export interface EncodedAudio {
  /** Interleaved PCM frames (whole frames only). */
  data: Buffer;
  format: Pick<WavFormat, "format" | "channels">;
  sampleRate: number;
  channels: number;
  frames: number;
}

function encoded(data: Buffer, format: Pick<WavFormat, "format" | "channels">, sampleRate: number): EncodedAudio {
  const frameBytes = (format.format.bits / 8) * format.channels;
  const frames = Math.floor(data.length / frameBytes);
  return { data: data.subarray(0, frames * frameBytes), format, sampleRate, channels: format.channels, frames };
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

/** Check a request body: WAV by its header, otherwise raw little-endian linear16 when the caller says so, otherwise 415. */
export function inspectAudio(buf: Buffer, raw?: { encoding: string; sampleRate?: string; channels?: string }): EncodedAudio {
  if (buf.length === 0) throw invalid("the request body is empty: send audio");
  const container = sniffContainer(buf);
  if (container === "wav") return inspectWav(buf);
  if (raw) {
    if (raw.encoding !== "linear16") throw unsupported(`unsupported encoding "${raw.encoding}"`);
    const channels = raw.channels === undefined ? 1 : Number(raw.channels);
    if (!Number.isInteger(channels) || channels < 1 || channels > MAX_CHANNELS) {
      throw new HttpError(400, "invalid_parameter", `channels must be an integer from 1 to ${MAX_CHANNELS}`);
    }
    if (raw.sampleRate === undefined) throw new HttpError(400, "invalid_parameter", "encoding=linear16 needs sample_rate");
    const sampleRate = parseRate(raw.sampleRate);
    if (buf.length < 2 * channels) throw invalid("the request contains no audio samples");
    return encoded(buf, { format: { kind: "int", bits: 16 }, channels }, sampleRate);
  }
  throw unsupported(container ? `unsupported audio container "${container}"` : "the body is not a recognised audio format");
}

/** Decode a whole body at once (small inputs; the request path decodes in slices through prepareStt). */
export function decodeAudio(buf: Buffer, raw?: { encoding: string; sampleRate?: string; channels?: string }): Pcm {
  return toPcm(inspectAudio(buf, raw));
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
  const head = r.process(samples);
  const tail = r.flush();
  const out = new Float32Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
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

/**
 * A 44-byte PCM WAV header. With `dataBytes` unknown (streaming), the RIFF and data sizes are
 * 0xFFFFFFFF, which common decoders (ffmpeg, browsers, sox, this server) read as "until end of stream".
 */
export function wavHeader(sampleRate: number, dataBytes?: number, channels = 1): Buffer {
  const h = Buffer.alloc(44);
  h.write("RIFF", 0, "latin1");
  h.writeUInt32LE(dataBytes === undefined ? 0xffffffff : 36 + dataBytes, 4);
  h.write("WAVE", 8, "latin1");
  h.write("fmt ", 12, "latin1");
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * channels * 2, 28);
  h.writeUInt16LE(channels * 2, 32);
  h.writeUInt16LE(16, 34);
  h.write("data", 36, "latin1");
  h.writeUInt32LE(dataBytes === undefined ? 0xffffffff : dataBytes, 40);
  return h;
}

export function encodeWav(samples: Int16Array, sampleRate: number): Buffer {
  const data = int16ToBuffer(samples);
  return Buffer.concat([wavHeader(sampleRate, data.length), data]);
}

const ULAW_SEG_END = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];
const ALAW_SEG_END = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];

/** G.711 mu-law or A-law bytes, one per sample (the CCITT reference quantizer, as Sun's g711.c and Python's audioop). */
export function encodeG711(pcm: Int16Array, law: "mulaw" | "alaw"): Buffer {
  const out = Buffer.alloc(pcm.length);
  for (let i = 0; i < pcm.length; i++) {
    if (law === "mulaw") {
      let v = pcm[i] >> 2;
      const mask = v < 0 ? 0x7f : 0xff;
      v = Math.min(Math.abs(v) + 0x21, 8159);
      const seg = ULAW_SEG_END.findIndex((end) => v <= end);
      out[i] = ((seg << 4) | ((v >> (seg + 1)) & 0x0f)) ^ mask;
    } else {
      let v = pcm[i] >> 3;
      const mask = v >= 0 ? 0xd5 : 0x55;
      if (v < 0) v = -v - 1;
      const seg = ALAW_SEG_END.findIndex((end) => v <= end);
      out[i] = seg < 0 ? 0x7f ^ mask : ((seg << 4) | ((v >> (seg < 2 ? 1 : seg)) & 0x0f)) ^ mask;
    }
  }
  return out;
}
