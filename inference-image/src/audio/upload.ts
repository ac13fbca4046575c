/**
 * Uploaded audio: a whole body recognised by its bytes (or declared headerless), checked, then decoded lazily in
 * slices to mono float32 at the engine's rate within a duration limit, yielding to the event loop between slices.
 */
import { concatSamples } from "../shared/samples";
import { createStreamDecoder, UnsupportedCodecError } from "./codecs/decoders";
import { type Container, sniffContainer } from "./codecs/detect";
import { ffmpegDecode } from "./codecs/ffmpeg";
import { crc32 } from "./codecs/ogg";
import { AudioError, AudioTooLongError, InvalidAudioError } from "./errors";
import { frameBytes, pcmToMono, type RawAudio } from "./pcm";
import { Resampler } from "./resample";
import { type EncodedAudio, encoded, inspectAiff, inspectWav, unsupported } from "./wav";

/** A compressed body: its container named by its bytes, decoded by ./codecs as it is consumed. */
export interface CompressedAudio {
  kind: "compressed";
  container: Exclude<Container, "wav" | "aiff">;
  body: Buffer;
}

export type UploadAudio = EncodedAudio | CompressedAudio;

/** How the sender declared a body: headerless audio in this shape, or the container a Deepgram `encoding` names. */
export type DeclaredAudio = RawAudio | "flac" | "opus";

const invalid = (what: string) => new InvalidAudioError(what);

/** The raw PCM shape a declaration names, if it names one (not a container). */
export function rawFormat(declared: DeclaredAudio | undefined): RawAudio | undefined {
  return typeof declared === "object" ? declared : undefined;
}

/**
 * Check a request body. Containers are recognised by their bytes alone; a headerless body needs its raw shape
 * declared. "flac" and "opus" declare containers, which must then be there.
 */
export function inspectAudio(buf: Buffer, declared?: DeclaredAudio): UploadAudio {
  if (buf.length === 0) throw invalid("the request body is empty: send audio");
  const raw = rawFormat(declared);
  const container = sniffContainer(buf, raw === undefined);
  if (declared === "flac" || declared === "opus") {
    const expected = declared === "flac" ? ["flac", "ogg"] : ["ogg", "webm"];
    if (!container || !expected.includes(container)) {
      throw invalid(`encoding=${declared} but the body is not ${declared === "flac" ? "a FLAC" : "an Ogg or WebM"} stream (no ${declared === "flac" ? "fLaC" : "OggS"} header)`);
    }
  }
  if (container === "wav") return inspectWav(buf);
  if (container === "aiff") return inspectAiff(buf);
  if (container) return { kind: "compressed", container, body: buf };
  if (raw) {
    if (buf.length < frameBytes(raw.format, raw.channels)) throw invalid("the request contains no audio samples");
    return encoded(buf, raw.format, raw.sampleRate, raw.channels);
  }
  throw unsupported("the body is not a recognised audio format (send a container, or a headerless body with encoding and sample_rate)");
}

/** Mono samples of frames [from, to). */
function framesToMono(audio: EncodedAudio, from: number, to: number): Float32Array {
  const size = frameBytes(audio.format, audio.channels);
  return pcmToMono(audio.data.subarray(from * size, to * size), audio);
}

export interface Pcm {
  /** Mono samples in [-1, 1]. */
  samples: Float32Array;
  sampleRate: number;
  /** Channels in the source, before mixing. */
  channels: number;
}

/** Decode a whole PCM-family body at once (small inputs; the request path decodes in slices through decodeUpload). */
export function decodeAudio(buf: Buffer, declared?: DeclaredAudio): Pcm {
  const audio = inspectAudio(buf, declared);
  if (audio.kind !== "pcm") throw new Error(`decodeAudio handles PCM-family audio only, not ${audio.container}`);
  return { samples: framesToMono(audio, 0, audio.frames), sampleRate: audio.sampleRate, channels: audio.channels };
}

interface MonoChunk {
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
  if (produced === 0) throw invalid(`no decodable audio in this ${what} file`);
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
    if (produced === 0) throw invalid(`no decodable audio in this ${what} file (corrupt, or not ${what} data behind its header)`);
    const declared = decoder.declaredSamples;
    if (declared !== undefined && produced + Math.max(4608, declared * 0.02) < declared) {
      const rate = decoder.sampleRate;
      throw invalid(`truncated ${what}: its header declares ${(declared / rate).toFixed(2)} s of audio but the file holds ${(produced / rate).toFixed(2)} s`);
    }
  } finally {
    decoder.free();
  }
}

/** A decoder's own exceptions (a WASM trap on hostile data) become InvalidAudioError naming the format. */
function decodeFailure(err: unknown, what: string): Error {
  if (err instanceof AudioError) return err;
  return invalid(`invalid ${what}: the decoder failed on this data (${(err as Error).message?.slice(0, 120) ?? "unknown error"})`);
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
    if (at + size < body.length) throw invalid(`truncated Ogg: the last page is cut off (${body.length - at - size} bytes of a partial page)`);
    if (!(body[at + 5] & 0x04)) throw invalid("truncated Ogg: the stream ends without its end-of-stream page (cut off)");
    return;
  }
  throw invalid("truncated or corrupt Ogg: no complete page at the end of the file");
}

/** Decoded audio as the STT engine wants it: mono float32 at its rate, within the duration limit. */
export interface EngineAudio {
  samples: Float32Array;
  durationS: number;
  channels: number;
}

/** Work this long on the event loop, then yield, so health checks and other requests are served meanwhile. */
const SLICE_MS = 10;

/**
 * Decode, mix and resample in slices, yielding to the event loop between them: a large upload
 * (tens of MB) would otherwise hold the main thread for hundreds of milliseconds, and health checks and
 * every other request with it. The duration limit is checked as the audio is decoded (before any decoding
 * when the header declares it), so a small file that expands to hours is refused after `maxSeconds` of it,
 * with memory bounded by that. Compressed audio is decoded in full before it is resampled: decoding is ~10x
 * cheaper than resampling, so a decompression bomb is refused within a second instead of after seconds of
 * resampling audio that will be thrown away.
 */
export async function decodeUpload(audio: UploadAudio, target: { sampleRate: number; maxSeconds: number }): Promise<EngineAudio> {
  const limit = target.maxSeconds;
  const tooLong = (what: string) => new AudioTooLongError(`the audio lasts ${what}; the limit is ${limit} s`);
  if (audio.kind === "pcm" && audio.frames / audio.sampleRate > limit) throw tooLong(`${(audio.frames / audio.sampleRate).toFixed(1)} s`);
  const outRate = target.sampleRate;
  let resampler: Resampler | undefined;
  let sourceRate = 0;
  let channels = 1;
  let durationS = 0;
  let lastYield = performance.now();
  const pause = async () => {
    if (performance.now() - lastYield < SLICE_MS) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    lastYield = performance.now();
  };
  const decoded: Float32Array[] = [];
  const parts: Float32Array[] = [];
  for await (const chunk of monoChunks(audio, outRate)) {
    if (sourceRate === 0) {
      sourceRate = chunk.sampleRate;
      channels = chunk.channels;
      resampler = sourceRate === outRate ? undefined : new Resampler(sourceRate, outRate);
    }
    durationS += chunk.samples.length / sourceRate;
    if (durationS > limit) throw tooLong(`more than ${limit} s`);
    // PCM's length was checked up front: resample as it goes, holding only the output.
    if (audio.kind === "pcm") parts.push(resampler ? resampler.process(chunk.samples) : chunk.samples);
    else decoded.push(chunk.samples);
    await pause();
  }
  // In one-second pieces: one decode call can yield minutes of audio, and resampling it at once would block.
  for (const samples of decoded.splice(0)) {
    for (let at = 0; at < samples.length; at += sourceRate) {
      const piece = samples.subarray(at, at + sourceRate);
      parts.push(resampler ? resampler.process(piece) : piece);
      await pause();
    }
  }
  if (resampler) parts.push(resampler.flush());
  return { samples: concatSamples(parts), durationS, channels };
}
