/**
 * The codec API: upload decoding (whole bodies, in slices), streaming decoders by container or raw encoding
 * (live audio), streaming encoders by output format (speech out). Everything audio-format-specific that is
 * not PCM/WAV/AIFF lives in this folder.
 */
import { HttpError } from "../../shared/http";
import { type CompressedAudio, framesToMono, invalidAudio, type UploadAudio } from "../audio";
import { createStreamDecoder, UnsupportedCodecError } from "./decoders";
import { ffmpegDecode } from "./ffmpeg";
import { crc32 } from "./ogg";

export { createStreamDecoder, PcmStreamDecoder, type StreamDecoder } from "./decoders";
export { sniffContainer } from "./detect";
export { createEncoder, type EncoderSpec, type Encoding, ENCODINGS, type StreamEncoder } from "./encoders";
export { isOpusRate } from "./opus-rates";
export { FFMPEG_FORMATS, ffmpegAvailable } from "./ffmpeg";

export const SUPPORTED_OUTPUT =
  "OpenAI response_format mp3 (default), opus (Ogg), aac (ADTS), flac, wav, pcm (24 kHz s16le); Deepgram encoding " +
  "linear16, mulaw, alaw (container wav or none), mp3, opus (ogg), flac, aac with Deepgram's sample_rate/bit_rate " +
  "combinations; streamed as synthesized";

/** Content-Types speech responses carry (raw PCM's carry their rate as a parameter). */
export const OUTPUT_MEDIA_TYPES = ["audio/mpeg", "audio/ogg", "audio/aac", "audio/flac", "audio/wav", "audio/l16", "audio/PCMU", "audio/PCMA"];

export interface MonoChunk {
  samples: Float32Array;
  sampleRate: number;
  channels: number;
}

/**
 * Compressed input per decode call. It bounds what one call can produce: a FLAC frame of silence is about
 * ten bytes for 4096 samples, so 8 KiB decodes to at most ~3 M samples before the duration limit is checked.
 */
const SLICE_BYTES = 8192;
/** Rate ffmpeg is asked for (it resamples in the child; mp4/AAC speech has nothing above 8 kHz worth keeping at 48). */
const FFMPEG_RATE = 16000;

/**
 * An upload's audio as mono chunks at their source rate (or at `wantedRate` where a codec decodes there
 * natively), decoded lazily: the consumer enforces the duration limit.
 */
export async function* monoChunks(audio: UploadAudio, wantedRate?: number): AsyncGenerator<MonoChunk> {
  if (audio.kind === "pcm") {
    for (let from = 0; from < audio.frames; from += audio.sampleRate) {
      yield { samples: framesToMono(audio, from, Math.min(audio.frames, from + audio.sampleRate)), sampleRate: audio.sampleRate, channels: audio.channels };
    }
    return;
  }
  yield* decodeCompressed(audio, wantedRate);
}

const NAMES: Record<CompressedAudio["container"], string> = { mp3: "mp3", ogg: "Ogg", flac: "FLAC", webm: "WebM", mp4: "MP4" };

async function* fromFfmpeg(body: Buffer, what: string): AsyncGenerator<MonoChunk> {
  let produced = 0;
  for await (const samples of ffmpegDecode(body, what, FFMPEG_RATE)) {
    produced += samples.length;
    yield { samples, sampleRate: FFMPEG_RATE, channels: 1 };
  }
  if (produced === 0) throw invalidAudio(`no decodable audio in this ${what} file`);
}

async function* decodeCompressed(audio: CompressedAudio, wantedRate?: number): AsyncGenerator<MonoChunk> {
  const what = NAMES[audio.container];
  const { body } = audio;
  if (audio.container === "mp4") {
    yield* fromFfmpeg(body, what);
    return;
  }
  if (audio.container === "ogg") checkOggEnd(body);
  const decoder = createStreamDecoder(audio.container, wantedRate);
  let produced = 0;
  const decoded = (samples: Float32Array): MonoChunk => {
    produced += samples.length;
    return { samples, sampleRate: decoder.sampleRate, channels: decoder.channels };
  };
  try {
    for (let at = 0; at < body.length; at += SLICE_BYTES) {
      let samples: Float32Array;
      try {
        samples = await decoder.push(body.subarray(at, at + SLICE_BYTES));
      } catch (err) {
        // WebM with Vorbis (older Firefox recordings) or FLAC in Ogg: no in-process decoder; ffmpeg has one.
        if (err instanceof UnsupportedCodecError && produced === 0) {
          decoder.free();
          yield* fromFfmpeg(body, what);
          return;
        }
        throw decodeFailure(err, what);
      }
      if (samples.length > 0) yield decoded(samples);
    }
    const tail = await decoder.end().catch((err: unknown) => Promise.reject(decodeFailure(err, what)));
    if (tail.length > 0) yield decoded(tail);
    if (produced === 0) throw invalidAudio(`no decodable audio in this ${what} file (corrupt, or not ${what} data behind its header)`);
    const declared = decoder.declaredSamples;
    if (declared !== undefined && produced + Math.max(4608, declared * 0.02) < declared) {
      const rate = decoder.sampleRate;
      throw invalidAudio(`truncated ${what}: its header declares ${(declared / rate).toFixed(2)} s of audio but the file holds ${(produced / rate).toFixed(2)} s`);
    }
  } finally {
    decoder.free();
  }
}

/** A decoder's own exceptions (a WASM trap on hostile data) become a 400 naming the format. */
function decodeFailure(err: unknown, what: string): HttpError {
  if (err instanceof HttpError) return err;
  return invalidAudio(`invalid ${what}: the decoder failed on this data (${(err as Error).message?.slice(0, 120) ?? "unknown error"})`);
}

/**
 * A complete Ogg stream ends with an end-of-stream page. Find the last real page (its CRC checks out: "OggS"
 * may occur inside packet data) and check that it is whole and marked as the end.
 */
function checkOggEnd(body: Buffer): void {
  const floor = Math.max(0, body.length - 65_307 - 27);
  for (let at = body.lastIndexOf("OggS", body.length - 1, "latin1"); at >= floor; at = at > 0 ? body.lastIndexOf("OggS", at - 1, "latin1") : -1) {
    if (at + 27 > body.length) continue;
    const segments = body[at + 26];
    if (at + 27 + segments > body.length) continue;
    let size = 27 + segments;
    for (let i = 0; i < segments; i++) size += body[at + 27 + i];
    if (at + size > body.length) continue;
    const page = Buffer.from(body.subarray(at, at + size));
    const crc = page.readUInt32LE(22);
    page.writeUInt32LE(0, 22);
    if (crc32(page) !== crc) continue;
    if (at + size < body.length) throw invalidAudio(`truncated Ogg: the last page is cut off (${body.length - at - size} bytes of a partial page)`);
    if (!(body[at + 5] & 0x04)) throw invalidAudio("truncated Ogg: the stream ends without its end-of-stream page (cut off)");
    return;
  }
  throw invalidAudio("truncated or corrupt Ogg: no complete page at the end of the file");
}
