/**
 * Streaming encoders by output format, for speech out (/v1/audio/speech, /v1/speak, and the speak WebSocket):
 * 16-bit mono PCM in as the engine produces it, encoded bytes out as soon as the codec has a frame.
 * mp3: LAME (wasm-media-encoders, 20x faster than the pure-JS lamejs port here); opus: libopus (@evan/opus)
 * in Ogg pages of our own (./ogg); flac: libFLAC (libflacjs); aac: ffmpeg's own (LGPL) AAC encoder in WASM
 * (@mediabunny/aac-encoder) in Mediabunny's ADTS muxer (./aac); G.711 (alawmulaw) and linear16 raw or in WAV.
 */
import { readFile } from "node:fs/promises";
import { Encoder as OpusEncoder } from "@evan/opus";
import { alaw, mulaw } from "alawmulaw";
import { createEncoder as createWasmEncoder } from "wasm-media-encoders";
import { concatSamples } from "../../shared/samples";
import { int16ToBuffer, int16ToFloat } from "../pcm";
import { wavHeader } from "../wav";
import { AacEncoder } from "./aac";
import { OggWriter } from "./ogg";
import type { OpusRate } from "./opus-rates";
import type { EncoderSpec, StreamEncoder } from "./stream-encoder";

const EMPTY = Buffer.alloc(0);

/** linear16/mulaw/alaw, raw or in WAV; a streamed WAV's sizes are 0xFFFFFFFF ("until end of stream"). */
class PcmEncoder implements StreamEncoder {
  readonly contentType: string;
  private header: Buffer | undefined;

  constructor(private readonly spec: EncoderSpec) {
    const tag = spec.encoding === "mulaw" ? 7 : spec.encoding === "alaw" ? 6 : 1;
    this.header = spec.container === "wav" ? wavHeader(spec.sampleRate, undefined, 1, tag) : undefined;
    const raw = { linear16: `audio/l16; rate=${spec.sampleRate}; channels=1`, mulaw: `audio/PCMU; rate=${spec.sampleRate}`, alaw: `audio/PCMA; rate=${spec.sampleRate}` };
    this.contentType = spec.container === "wav" ? "audio/wav" : raw[spec.encoding as "linear16" | "mulaw" | "alaw"];
  }

  async push(pcm: Int16Array): Promise<Buffer> {
    const { encoding } = this.spec;
    const body = encoding === "mulaw" ? Buffer.from(mulaw.encode(pcm)) : encoding === "alaw" ? Buffer.from(alaw.encode(pcm)) : int16ToBuffer(pcm);
    const header = this.header;
    this.header = undefined;
    return header ? Buffer.concat([header, body]) : body;
  }

  async end(): Promise<Buffer> {
    return this.header ?? EMPTY;
  }

  close(): void {}
}

/** LAME's WASM, compiled once per process (the encoder hands the compiled module back): then ~1 ms per request, not ~15. */
let mp3Wasm: Parameters<typeof createWasmEncoder>[1] | undefined;
const MP3_KBPS = [8, 16, 24, 32, 40, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320] as const;

class Mp3Encoder implements StreamEncoder {
  readonly contentType = "audio/mpeg";

  private constructor(private readonly lame: Awaited<ReturnType<typeof createWasmEncoder<"audio/mpeg">>>) {}

  static async create(spec: EncoderSpec): Promise<Mp3Encoder> {
    mp3Wasm ??= await readFile(require.resolve("wasm-media-encoders/wasm/mp3"));
    const lame = await createWasmEncoder("audio/mpeg", mp3Wasm, (compiled) => (mp3Wasm = compiled));
    const kbps = Math.round((spec.bitRate ?? 48000) / 1000);
    const bitrate = MP3_KBPS.reduce((best, v) => (Math.abs(v - kbps) < Math.abs(best - kbps) ? v : best));
    lame.configure({ sampleRate: spec.sampleRate, channels: 1, bitrate });
    return new Mp3Encoder(lame);
  }

  async push(pcm: Int16Array): Promise<Buffer> {
    // The returned view aliases the encoder's memory: copy before the next call.
    return Buffer.from(this.lame.encode([int16ToFloat(pcm)]));
  }

  async end(): Promise<Buffer> {
    return Buffer.from(this.lame.finalize());
  }

  close(): void {}
}

/** libopus's request code (the package's typed getter is misspelt in its .d.ts). */
const OPUS_GET_LOOKAHEAD = 4027;

/** Opus in Ogg: 20 ms packets, one page per push so a streamed response plays as it arrives. */
class OggOpusEncoder implements StreamEncoder {
  readonly contentType = "audio/ogg";
  private readonly opus: OpusEncoder;
  private readonly ogg = new OggWriter();
  private readonly frame: number;
  private pending: Int16Array = new Int16Array(0);
  private headers: Buffer | undefined;
  private encoded = 0n;
  private readonly preSkip: number;

  constructor(private readonly spec: EncoderSpec) {
    this.opus = new OpusEncoder({ channels: 1, sample_rate: spec.sampleRate as OpusRate, application: "voip" });
    this.opus.bitrate = spec.bitRate ?? 32000;
    this.frame = spec.sampleRate / 50;
    // Granule positions and pre-skip count 48 kHz samples whatever the input rate (RFC 7845 section 4).
    this.preSkip = Math.round((this.opus.ctl(OPUS_GET_LOOKAHEAD) * 48000) / spec.sampleRate);
    this.headers = this.ogg.opusHeaders(1, this.preSkip, spec.sampleRate, "voice-selfhost libopus");
  }

  private encodeFrames(last: boolean): Buffer {
    let trailing = 0;
    if (last) {
      // The final packet is padded with silence (at least one packet, so the EOS page has one).
      const padded = new Int16Array(Math.max(1, Math.ceil(this.pending.length / this.frame)) * this.frame);
      padded.set(this.pending);
      trailing = padded.length - this.pending.length;
      this.pending = padded;
    }
    const rate = BigInt(this.spec.sampleRate);
    const packets: Buffer[] = [];
    const granules: bigint[] = [];
    let at = 0;
    for (; at + this.frame <= this.pending.length; at += this.frame) {
      packets.push(Buffer.from(this.opus.encode(this.pending.subarray(at, at + this.frame))));
      this.encoded += BigInt(this.frame);
      granules.push(BigInt(this.preSkip) + (this.encoded * 48000n) / rate);
    }
    this.pending = this.pending.slice(at);
    // End trimming: the last granule counts real samples only, not the padding (RFC 7845 section 4.4).
    if (last) granules[granules.length - 1] -= (BigInt(trailing) * 48000n) / rate;
    const body = packets.length > 0 ? this.ogg.packets(packets, granules, last) : EMPTY;
    const headers = this.headers;
    this.headers = undefined;
    return headers ? Buffer.concat([headers, body]) : body;
  }

  async push(pcm: Int16Array): Promise<Buffer> {
    this.pending = concatSamples([this.pending, pcm]);
    return this.encodeFrames(false);
  }

  async end(): Promise<Buffer> {
    return this.encodeFrames(true);
  }

  close(): void {}
}

type LibFlac = typeof import("libflacjs/dist/libflac");
let flacLib: Promise<LibFlac> | undefined;

function loadFlac(): Promise<LibFlac> {
  flacLib ??= new Promise((resolve) => {
    // The asm.js build (chosen by the factory argument): the WASM one loads its .wasm with fetch(), which fails on a file path in Node 20.
    const Flac: LibFlac = require("libflacjs")("min");
    if (Flac.isReady()) resolve(Flac);
    else Flac.on("ready", () => resolve(Flac));
  });
  return flacLib;
}

/** FLAC frames are written as libFLAC completes them; the total-samples field stays 0 (unknown), as streams allow. */
class FlacEncoder implements StreamEncoder {
  readonly contentType = "audio/flac";
  private out: Buffer[] = [];

  private constructor(
    private readonly flac: LibFlac,
    private readonly id: number,
  ) {}

  static async create(spec: EncoderSpec): Promise<FlacEncoder> {
    const flac = await loadFlac();
    const id = flac.create_libflac_encoder(spec.sampleRate, 1, 16, 5, 0, false, 0);
    if (!id) throw new Error("libFLAC refused the encoder settings");
    const encoder = new FlacEncoder(flac, id);
    const status = flac.init_encoder_stream(id, (data) => void encoder.out.push(Buffer.from(data)));
    if (status !== 0) throw new Error(`libFLAC init failed (status ${status})`);
    return encoder;
  }

  private take(): Buffer {
    const b = Buffer.concat(this.out);
    this.out = [];
    return b;
  }

  async push(pcm: Int16Array): Promise<Buffer> {
    if (pcm.length > 0 && !this.flac.FLAC__stream_encoder_process_interleaved(this.id, Int32Array.from(pcm), pcm.length)) {
      throw new Error("libFLAC failed to encode");
    }
    return this.take();
  }

  async end(): Promise<Buffer> {
    this.flac.FLAC__stream_encoder_finish(this.id);
    this.close();
    return this.take();
  }

  private deleted = false;

  close(): void {
    if (this.deleted) return;
    this.deleted = true;
    this.flac.FLAC__stream_encoder_delete(this.id);
  }
}

/** Content-Types speech responses carry (raw PCM's carry their rate as a parameter). */
export const OUTPUT_MEDIA_TYPES = ["audio/mpeg", "audio/ogg", "audio/aac", "audio/flac", "audio/wav", "audio/l16", "audio/PCMU", "audio/PCMA"];

/** A ready encoder for `spec` (the caller has checked the combination against its API's rules). */
export async function createEncoder(spec: EncoderSpec): Promise<StreamEncoder> {
  switch (spec.encoding) {
    case "linear16":
    case "mulaw":
    case "alaw":
      return new PcmEncoder(spec);
    case "mp3":
      return Mp3Encoder.create(spec);
    case "opus":
      return new OggOpusEncoder(spec);
    case "flac":
      return FlacEncoder.create(spec);
    case "aac":
      return AacEncoder.create(spec.sampleRate, spec.bitRate ?? 48000);
  }
}

