/**
 * Streaming decoders by container: bytes in as they arrive (an upload in slices, a live stream frame by frame),
 * mono float32 out. WASM builds of the reference decoders (mpg123, libopus, libvorbis, libFLAC) run in-process:
 * measured 4-17 ms for a 5 s clip against 90-170 ms for spawning ffmpeg (BENCHMARKS.md, issue 12).
 */
/// <reference path="./ebml.d.ts" />
import { FLACDecoder } from "@wasm-audio-decoders/flac";
import { OggVorbisDecoder } from "@wasm-audio-decoders/ogg-vorbis";
import { Decoder as EbmlDecoder } from "ebml";
import { MPEGDecoder } from "mpg123-decoder";
import { OggOpusDecoder } from "ogg-opus-decoder";
import { OpusDecoder } from "opus-decoder";
import { concatSamples } from "../../shared/samples";
import { InvalidAudioError, UnsupportedAudioError } from "../errors";
import { pcmToMono, type SampleFormat, SUPPORTED_INPUT } from "../pcm";
import { parseWavHeader } from "../wav";
import type { Container } from "./detect";
import { OPUS_RATES, type OpusRate } from "./opus-rates";

export interface StreamDecoder {
  /** Mono samples decoded from `bytes` and what came before (possibly none yet: a frame may span chunks). */
  push(bytes: Buffer): Promise<Float32Array>;
  /** End of input: whatever the decoder held back. */
  end(): Promise<Float32Array>;
  /** The source's rate, known once the first samples came out (0 before). */
  readonly sampleRate: number;
  /** The source's channel count (mixed to mono), known with the rate. */
  readonly channels: number;
  /** Samples the stream's own header says it holds (mp3 Xing/Info, FLAC STREAMINFO), when it says. */
  readonly declaredSamples: number | undefined;
  free(): void;
}

/** This container is valid but needs a codec the in-process decoders lack (the upload path may use ffmpeg). */
export class UnsupportedCodecError extends UnsupportedAudioError {
  constructor(readonly codec: string) {
    super(`unsupported codec ${codec}. Supported: ${SUPPORTED_INPUT}`);
  }
}

const invalidAudio = (what: string) => new InvalidAudioError(what);

/** A header may not take more than this before audio starts (WAV header, webm before its first block). */
const MAX_HEADER_BYTES = 1024 * 1024;

interface Decoded {
  channelData: Float32Array[];
  samplesDecoded: number;
  sampleRate: number;
  errors: { message: string }[];
}

/**
 * The wasm-audio-decoders print every bad frame to stderr with console.error, which a hostile upload
 * would turn into a log flood; the error comes back in `errors` too, and the request fails on it.
 */
function quiet<T>(fn: () => T): T {
  const saved = console.error;
  console.error = () => undefined;
  try {
    return fn();
  } finally {
    console.error = saved;
  }
}

/** Mono copy: the decoders' channel arrays may be views of WASM memory that the next call overwrites. */
function mix(channels: Float32Array[], n: number): Float32Array {
  if (channels.length === 1) return channels[0].slice(0, n);
  const out = new Float32Array(n);
  for (const ch of channels) for (let i = 0; i < n; i++) out[i] += ch[i];
  for (let i = 0; i < n; i++) out[i] /= channels.length;
  return out;
}

/** Shared shape of the wasm-audio-decoders: results carry channel data, rate and per-frame errors. */
abstract class WasmDecoder implements StreamDecoder {
  sampleRate = 0;
  channels = 0;
  declaredSamples: number | undefined;

  constructor(protected readonly what: string) {}

  protected take(r: Decoded): Float32Array {
    if (r.errors.length > 0) throw invalidAudio(`invalid ${this.what}: ${r.errors[0].message} (corrupt or not ${this.what} data)`);
    if (r.samplesDecoded === 0) return new Float32Array(0);
    if (this.sampleRate === 0) {
      this.sampleRate = r.sampleRate;
      this.channels = r.channelData.length;
    } else if (r.sampleRate !== this.sampleRate) {
      throw invalidAudio(`invalid ${this.what}: the sample rate changes mid-stream (${this.sampleRate} to ${r.sampleRate} Hz)`);
    }
    return mix(r.channelData, r.samplesDecoded);
  }

  abstract push(bytes: Buffer): Promise<Float32Array>;
  abstract end(): Promise<Float32Array>;
  abstract free(): void;
}

/** Samples per MPEG audio frame: Layer I 384, Layer II 1152, Layer III 1152 in MPEG-1 and 576 in MPEG-2/2.5. */
const SAMPLES_PER_FRAME = (version: number, layer: number) => (layer === 1 ? 384 : layer === 2 || version === 3 ? 1152 : 576);

/** The Xing/Info tag's frame count (what LAME and ffmpeg write into the first frame), as samples. */
function xingSamples(head: Buffer): number | undefined {
  let o = 0;
  if (head.toString("latin1", 0, 3) === "ID3" && head.length >= 10) {
    o = 10 + ((head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]);
  }
  if (o + 4 > head.length || head[o] !== 0xff || (head[o + 1] & 0xe0) !== 0xe0) return undefined;
  const version = (head[o + 1] >> 3) & 3; // 3: MPEG-1
  const layer = 4 - ((head[o + 1] >> 1) & 3);
  const mono = head[o + 3] >> 6 === 3;
  const side = version === 3 ? (mono ? 17 : 32) : mono ? 9 : 17;
  const t = o + 4 + side;
  if (t + 12 > head.length) return undefined;
  const tag = head.toString("latin1", t, t + 4);
  if ((tag !== "Xing" && tag !== "Info") || !(head.readUInt32BE(t + 4) & 1)) return undefined;
  return head.readUInt32BE(t + 8) * SAMPLES_PER_FRAME(version, layer);
}

class Mp3Decoder extends WasmDecoder {
  private readonly decoder = new MPEGDecoder();
  private head = Buffer.alloc(0);

  constructor() {
    super("mp3");
  }

  async push(bytes: Buffer): Promise<Float32Array> {
    await this.decoder.ready;
    if (this.head.length < 4096) {
      this.head = Buffer.concat([this.head, bytes.subarray(0, 4096)]);
      this.declaredSamples = xingSamples(this.head);
    }
    return this.take(quiet(() => this.decoder.decode(bytes)));
  }

  async end(): Promise<Float32Array> {
    return new Float32Array(0);
  }

  free(): void {
    this.decoder.free();
  }
}

class FlacDecoder extends WasmDecoder {
  private readonly decoder = new FLACDecoder();
  private head = Buffer.alloc(0);

  constructor() {
    super("FLAC");
  }

  async push(bytes: Buffer): Promise<Float32Array> {
    await this.decoder.ready;
    if (this.head.length < 26) {
      this.head = Buffer.concat([this.head, bytes.subarray(0, 26)]);
      // STREAMINFO follows "fLaC" and its 4-byte block header; total samples are its 36 bits from bit 108. 0: unknown.
      if (this.head.length >= 26) this.declaredSamples = (this.head[21] & 0x0f) * 2 ** 32 + this.head.readUInt32BE(22) || undefined;
    }
    return this.rescale(await quiet(() => this.decoder.decode(bytes)));
  }

  async end(): Promise<Float32Array> {
    return this.rescale(await quiet(() => this.decoder.flush()));
  }

  /** This decoder divides by 2^(bits-1) - 1; WAV, ffmpeg and this server divide by 2^(bits-1), so lossless stays exact. */
  private rescale(r: Decoded & { bitDepth: number }): Float32Array {
    const out = this.take(r);
    const scale = (2 ** (r.bitDepth - 1) - 1) / 2 ** (r.bitDepth - 1);
    for (let i = 0; i < out.length; i++) out[i] *= scale;
    return out;
  }

  free(): void {
    this.decoder.free();
  }
}

/**
 * libopus decodes at 8/12/16/24/48 kHz natively: at the lowest of those that covers the consumer's rate,
 * the decode is cheaper and no resampling follows (measured: 5 s of WebM/Opus for a 16 kHz engine, 49 ms
 * at 48 kHz plus resampling, a third of that at 16 kHz).
 */
const opusRate = (wanted: number): OpusRate => OPUS_RATES.find((r) => r >= wanted) ?? 48000;

/** Ogg carries opus, vorbis or FLAC: the first page's first packet says which. */
class OggDecoder extends WasmDecoder {
  private decoder: OggOpusDecoder | OggVorbisDecoder | undefined;
  private head = Buffer.alloc(0);

  constructor(private readonly wantedRate: number) {
    super("Ogg");
  }

  async push(bytes: Buffer): Promise<Float32Array> {
    if (!this.decoder) {
      this.head = Buffer.concat([this.head, bytes]);
      if (this.head.length < 27) return new Float32Array(0);
      const segments = this.head[26];
      const packet = 27 + segments;
      if (this.head.length < packet + 8) return new Float32Array(0);
      const magic = this.head.subarray(packet, packet + 8).toString("latin1");
      // sampleRate is an option of the implementation that its typings leave out.
      if (magic === "OpusHead") this.decoder = new OggOpusDecoder({ sampleRate: opusRate(this.wantedRate) } as ConstructorParameters<typeof OggOpusDecoder>[0]);
      else if (magic.startsWith("\x01vorbis")) this.decoder = new OggVorbisDecoder();
      else if (magic.startsWith("\x7fFLAC")) throw new UnsupportedCodecError("FLAC in Ogg");
      else throw invalidAudio("invalid Ogg: the first packet is neither an Opus, Vorbis nor FLAC header (corrupt or not Ogg audio)");
      bytes = this.head;
      this.head = Buffer.alloc(0);
    }
    const decoder = this.decoder;
    await decoder.ready;
    return this.take(await quiet(() => decoder.decode(bytes)));
  }

  async end(): Promise<Float32Array> {
    const decoder = this.decoder;
    if (!decoder) return new Float32Array(0);
    return this.take(await quiet(() => decoder.flush()));
  }

  free(): void {
    this.decoder?.free();
  }
}

interface EbmlTag {
  name: string;
  data: Uint8Array;
  payload?: Uint8Array | null;
  track?: number;
  value?: unknown;
}

/**
 * WebM/Matroska with Opus, as browsers' MediaRecorder writes it: the `ebml` parser emits each block as soon as
 * its bytes are in (it does not wait for a cluster to end, and takes the unknown sizes live writers use), and
 * libopus decodes the block's packet. Other codecs are refused with UnsupportedCodecError.
 */
class WebmOpusDecoder extends WasmDecoder {
  private readonly parser = new EbmlDecoder();
  /** Parser events in order: tags, and the ends of master elements (a TrackEntry's end completes it). */
  private readonly tags: EbmlTag[] = [];
  private parseError: Error | undefined;
  private decoder: OpusDecoder<OpusRate> | undefined;
  private readonly rate: OpusRate;
  private trackNumber: number | undefined;
  private current: { number?: number; codec?: string; channels?: number } = {};
  private bytesSinceBlock = 0;

  constructor(wantedRate: number) {
    super("WebM");
    this.rate = opusRate(wantedRate);
    this.parser.on("data", ([kind, tag]: [string, EbmlTag]) => {
      if (kind === "tag" || (kind === "end" && tag.name === "TrackEntry")) this.tags.push(kind === "end" ? { ...tag, name: "/TrackEntry" } : tag);
    });
    this.parser.on("error", (err: Error) => (this.parseError = err));
  }

  private endTrack(): void {
    const t = this.current;
    this.current = {};
    if (this.trackNumber !== undefined || t.codec === undefined || !t.codec.startsWith("A_")) return;
    if (t.codec !== "A_OPUS") throw new UnsupportedCodecError(`${t.codec.slice(2).toLowerCase()} in WebM`);
    const channels = t.channels ?? 1;
    if (channels > 2) throw new UnsupportedCodecError(`${channels}-channel Opus in WebM`);
    this.trackNumber = t.number;
    this.decoder = new OpusDecoder({ channels, sampleRate: this.rate });
  }

  async push(bytes: Buffer): Promise<Float32Array> {
    this.bytesSinceBlock += bytes.length;
    this.parser.write(bytes);
    if (this.parseError) throw invalidAudio(`invalid WebM: ${this.parseError.message}`);
    const out: Float32Array[] = [];
    for (const tag of this.tags.splice(0)) {
      if (tag.name === "/TrackEntry") this.endTrack();
      else if (tag.name === "TrackNumber") this.current.number = tag.value as number;
      else if (tag.name === "CodecID") this.current.codec = tag.value as string;
      else if (tag.name === "Channels") this.current.channels = tag.value as number;
      else if ((tag.name === "SimpleBlock" || tag.name === "Block") && tag.payload) {
        if (!this.decoder) throw invalidAudio("invalid WebM: audio blocks come before an Opus track is declared");
        if (tag.track !== this.trackNumber) continue;
        this.bytesSinceBlock = 0;
        const flags = tag.data[tag.data.length - tag.payload.length - 1];
        if (flags & 0x06) throw new UnsupportedCodecError("laced WebM blocks");
        const decoder = this.decoder;
        await decoder.ready;
        const payload = tag.payload;
        const r = quiet(() => decoder.decodeFrame(payload));
        out.push(this.take({ ...r, sampleRate: this.rate }));
      }
    }
    // The parser holds an element until all its bytes are in: bound what a never-ending one can take.
    if (this.bytesSinceBlock > MAX_HEADER_BYTES) throw invalidAudio("invalid WebM: no audio block within 1 MiB");
    return concatSamples(out);
  }

  async end(): Promise<Float32Array> {
    if (this.trackNumber === undefined && !this.parseError) throw invalidAudio("invalid WebM: no Opus audio track");
    return new Float32Array(0);
  }

  free(): void {
    this.decoder?.free();
    this.parser.removeAllListeners();
  }
}

/** Headerless interleaved PCM or G.711: whole frames out, a partial frame carried to the next chunk. */
export class PcmStreamDecoder implements StreamDecoder {
  readonly declaredSamples = undefined;
  private carry = Buffer.alloc(0);
  private readonly frameBytes: number;

  constructor(
    readonly format: SampleFormat,
    readonly channels: number,
    readonly sampleRate: number,
  ) {
    this.frameBytes = (format.bits / 8) * channels;
  }

  async push(bytes: Buffer): Promise<Float32Array> {
    const all = this.carry.length > 0 ? Buffer.concat([this.carry, bytes]) : bytes;
    const whole = all.length - (all.length % this.frameBytes);
    this.carry = Buffer.from(all.subarray(whole));
    return pcmToMono(all.subarray(0, whole), this);
  }

  async end(): Promise<Float32Array> {
    return new Float32Array(0);
  }

  free(): void {}
}

/** A WAV stream: its header first (sizes may be 0 or 0xFFFFFFFF: unknown), then PCM. */
class WavStreamDecoder implements StreamDecoder {
  readonly declaredSamples = undefined;
  private head: Buffer | undefined = Buffer.alloc(0);
  private pcm: PcmStreamDecoder | undefined;

  get sampleRate(): number {
    return this.pcm?.sampleRate ?? 0;
  }

  get channels(): number {
    return this.pcm?.channels ?? 0;
  }

  async push(bytes: Buffer): Promise<Float32Array> {
    if (this.head) {
      const head = Buffer.concat([this.head, bytes]);
      const parsed = parseWavHeader(head);
      if (!parsed) {
        if (head.length > MAX_HEADER_BYTES) throw invalidAudio("invalid WAV: the header did not end within 1 MiB");
        this.head = head;
        return new Float32Array(0);
      }
      this.head = undefined;
      this.pcm = new PcmStreamDecoder(parsed.fmt.format, parsed.fmt.channels, parsed.fmt.sampleRate);
      bytes = head.subarray(parsed.dataOffset);
    }
    return this.pcm!.push(bytes);
  }

  async end(): Promise<Float32Array> {
    return new Float32Array(0);
  }

  free(): void {}
}

/**
 * A streaming decoder for a container named by sniffContainer (aiff and mp4 need the whole file: not here).
 * `wantedRate`: the rate the consumer resamples to; codecs that can decode at a lower rate natively (Opus) do.
 */
export function createStreamDecoder(container: Container, wantedRate = 48000): StreamDecoder {
  switch (container) {
    case "wav":
      return new WavStreamDecoder();
    case "mp3":
      return new Mp3Decoder();
    case "flac":
      return new FlacDecoder();
    case "ogg":
      return new OggDecoder(wantedRate);
    case "webm":
      return new WebmOpusDecoder(wantedRate);
    default:
      throw new UnsupportedCodecError(`${container} as a stream`);
  }
}
