/**
 * The PCM containers: WAV and AIFF/AIFC read (checked, located, not yet decoded: see upload.ts) and WAV written.
 * Truncated or malformed files are InvalidAudioError; formats outside what pcm.ts decodes, UnsupportedAudioError.
 */
import { InvalidAudioError, UnsupportedAudioError } from "./errors";
import { frameBytes, int16ToBuffer, MAX_CHANNELS, MAX_RATE, MIN_RATE, type SampleFormat, SUPPORTED_INPUT } from "./pcm";

export interface WavFormat {
  format: SampleFormat;
  channels: number;
  sampleRate: number;
  blockAlign: number;
}

/** Interleaved PCM frames (whole frames only) in a known format: a body located but not yet decoded. */
export interface EncodedAudio {
  kind: "pcm";
  data: Buffer;
  format: SampleFormat;
  sampleRate: number;
  channels: number;
  frames: number;
}

export const unsupported = (what: string) => new UnsupportedAudioError(`${what}. Supported: ${SUPPORTED_INPUT}`);
const invalid = (what: string) => new InvalidAudioError(what);

function checkShape(channels: number, sampleRate: number, what: string): void {
  if (channels < 1 || channels > MAX_CHANNELS) throw unsupported(`unsupported ${what} channel count ${channels}`);
  if (sampleRate < MIN_RATE || sampleRate > MAX_RATE) throw unsupported(`unsupported sample rate ${sampleRate} Hz`);
}

/** Whole frames of `data` as EncodedAudio. */
export function encoded(data: Buffer, format: SampleFormat, sampleRate: number, channels: number): EncodedAudio {
  const size = frameBytes(format, channels);
  const frames = Math.floor(data.length / size);
  return { kind: "pcm", data: data.subarray(0, frames * size), format, sampleRate, channels, frames };
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

/** Check a complete WAV file. */
export function inspectWav(buf: Buffer): EncodedAudio {
  const header = parseWavHeader(buf);
  if (!header) throw invalid("truncated WAV: the file ends before its audio data starts");
  const { fmt, dataOffset, dataBytes } = header;
  const available = buf.length - dataOffset;
  if (dataBytes !== undefined && dataBytes > available) {
    throw invalid(`truncated WAV: the header declares ${dataBytes} bytes of audio but only ${available} are present`);
  }
  const data = buf.subarray(dataOffset, dataOffset + (dataBytes ?? available));
  if (data.length < fmt.blockAlign) throw invalid("the WAV file contains no audio samples");
  return encoded(data, fmt.format, fmt.sampleRate, fmt.channels);
}

/** IEEE 754 80-bit extended (AIFF's sample rate field). */
function readExtended(b: Buffer, o: number): number {
  const exponent = ((b[o] & 0x7f) << 8) | b[o + 1];
  const mantissa = b.readUInt32BE(o + 2) * 2 ** 32 + b.readUInt32BE(o + 6);
  return exponent === 0 && mantissa === 0 ? 0 : mantissa * 2 ** (exponent - 16383 - 63);
}

function intFormat(bits: number, bigEndian: boolean): SampleFormat | undefined {
  return bits === 8 || bits === 16 || bits === 24 || bits === 32 ? { kind: "int", bits, bigEndian } : undefined;
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

/** AIFF and AIFC: big-endian chunks; COMM says the format, SSND holds the frames. */
export function inspectAiff(buf: Buffer): EncodedAudio {
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
      const declared = comm.frames * frameBytes(comm.format, comm.channels);
      const available = buf.length - start;
      if (declared > available) throw invalid(`truncated AIFF: the header declares ${declared} bytes of audio but only ${Math.max(0, available)} are present`);
      if (comm.frames === 0) throw invalid("the AIFF file contains no audio samples");
      return encoded(buf.subarray(start, start + declared), comm.format, comm.sampleRate, comm.channels);
    }
    offset = body + size + (size & 1);
  }
  throw invalid("truncated AIFF: no SSND (sound data) chunk");
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
