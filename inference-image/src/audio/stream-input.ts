/**
 * A live stream's audio on its way to the engine, one class for every socket route: recognise the stream by its
 * first bytes (unless it was declared headerless), decode frame by frame, hold it to a duration limit, resample
 * to the engine's rate. Bytes go in as they arrive; mono float32 at the engine's rate comes out.
 */
import { createStreamDecoder, PcmStreamDecoder, type StreamDecoder } from "./codecs/decoders";
import { sniffContainer } from "./codecs/detect";
import { AudioTooLongError, UnsupportedAudioError } from "./errors";
import type { RawAudio } from "./pcm";
import { Resampler } from "./resample";

/** A container stream is recognised from this many first bytes (RIFF....WAVE is the longest magic). */
const SNIFF_BYTES = 12;

/** The containers a stream may arrive in: AIFF and mp4 need the whole file. */
export const STREAM_CONTAINERS = "WAV, WebM/Opus, Ogg, mp3, FLAC";

/** A stream with no declared raw shape whose first bytes are no container this server decodes as a stream. */
export class UnrecognisedStreamError extends UnsupportedAudioError {
  override readonly name: string = "UnrecognisedStreamError";
}

export interface StreamingInputOptions {
  /** Headerless audio in this shape; undefined: a container stream, recognised by its first bytes. */
  raw?: RawAudio;
  /** The rate samples come out at (the engine's). */
  outRate: number;
  /** Seconds of source audio accepted; past them push() throws AudioTooLongError. */
  maxSeconds: number;
}

export class StreamingInput {
  /** A container stream's first bytes, until there are enough to recognise it. */
  private sniffed = Buffer.alloc(0);
  private decoder: StreamDecoder | undefined;
  private resampler: Resampler | undefined;
  private sourceSeconds = 0;

  constructor(private readonly options: StreamingInputOptions) {
    const { raw } = options;
    if (raw) this.decoder = new PcmStreamDecoder(raw.format, raw.channels, raw.sampleRate);
  }

  /** Seconds of source audio decoded so far. */
  get seconds(): number {
    return this.sourceSeconds;
  }

  /** The source's channel count, once known (1 before). */
  get channels(): number {
    return this.decoder?.channels || 1;
  }

  /**
   * The next bytes, in arrival order; resolves with the engine-rate samples they completed (possibly none yet).
   * Decoders keep state and some are async: await each push before the next.
   */
  async push(bytes: Buffer): Promise<Float32Array> {
    if (bytes.length === 0) return new Float32Array(0);
    if (!this.decoder) {
      const head = Buffer.concat([this.sniffed, bytes]);
      if (head.length < SNIFF_BYTES) {
        this.sniffed = head;
        return new Float32Array(0);
      }
      const container = sniffContainer(head);
      if (!container || container === "aiff" || container === "mp4") {
        throw new UnrecognisedStreamError(`audio is not a stream this server recognises (${STREAM_CONTAINERS}) and no raw encoding was declared`);
      }
      this.decoder = createStreamDecoder(container, this.options.outRate);
      this.sniffed = Buffer.alloc(0);
      bytes = head;
    }
    return this.convert(await this.decoder.push(bytes));
  }

  /** End of input: what the decoder and the resampler held back. */
  async end(): Promise<Float32Array> {
    if (!this.decoder) return new Float32Array(0);
    const last = await this.convert(await this.decoder.end());
    const tail = this.resampler?.flush() ?? new Float32Array(0);
    if (last.length === 0) return tail;
    const out = new Float32Array(last.length + tail.length);
    out.set(last);
    out.set(tail, last.length);
    return out;
  }

  /** Free the decoder's memory; call after the last push or end has settled (WASM memory freed under a decode traps). */
  free(): void {
    this.decoder?.free();
  }

  /** Decoded source-rate audio: count it against the limit, resample to the engine's rate. */
  private convert(mono: Float32Array): Float32Array {
    if (mono.length === 0) return mono;
    const rate = this.decoder!.sampleRate;
    this.sourceSeconds += mono.length / rate;
    if (this.sourceSeconds > this.options.maxSeconds) throw new AudioTooLongError(`the stream passed the limit of ${this.options.maxSeconds} s of audio`);
    this.resampler ??= new Resampler(rate, this.options.outRate);
    return this.resampler.process(mono);
  }
}
