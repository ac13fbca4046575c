/**
 * AAC speech out: ffmpeg's native AAC-LC encoder compiled to WASM (@mediabunny/aac-encoder, LGPL libavcodec
 * under an MPL wrapper; it runs in a worker thread of its own) and Mediabunny's ADTS muxer. No child process.
 */
import { join } from "node:path";
import type * as Mediabunny from "mediabunny";
import { registerAacEncoder } from "@mediabunny/aac-encoder";
import { int16ToFloat } from "../pcm";
import type { StreamEncoder } from "./stream-encoder";

/**
 * Mediabunny's ES module build, by path: the encoder extension imports that build and registers itself in its
 * registry, while `require("mediabunny")` would load the separate CommonJS build, which never sees the encoder.
 */
const main = require.resolve("mediabunny");
const mb = require(join(main.slice(0, main.lastIndexOf("/dist/")), "dist/modules/src/index.js")) as typeof Mediabunny;
registerAacEncoder();

/** Samples an AAC frame codes, and ffmpeg's encoder delay: its first packet comes after its second frame. */
const FRAME = 1024;
/** The most `push` waits for the worker's first packets (late ones go with the next push). */
const PACKET_WAIT_MS = 200;

export class AacEncoder implements StreamEncoder {
  readonly contentType = "audio/aac";
  private out: Buffer[] = [];
  private samples = 0;
  private closed = false;
  /** ADTS frames written so far, counted from the muxer's bytes (`tail`: a frame not yet complete). */
  private frames = 0;
  private tail = Buffer.alloc(0);
  private wake: (() => void) | undefined;

  private constructor(
    private readonly output: Mediabunny.Output,
    private readonly source: Mediabunny.AudioSampleSource,
    private readonly rate: number,
  ) {}

  static async create(rate: number, bitRate: number): Promise<AacEncoder> {
    let self: AacEncoder | undefined;
    const pending: Buffer[] = [];
    const target = new mb.StreamTarget(
      new WritableStream<Mediabunny.StreamTargetChunk>({ write: (c) => void (self ? self.written(Buffer.from(c.data)) : pending.push(Buffer.from(c.data))) }),
    );
    const output = new mb.Output({ format: new mb.AdtsOutputFormat(), target });
    const source = new mb.AudioSampleSource({ codec: "aac", bitrate: bitRate });
    output.addAudioTrack(source);
    await output.start();
    self = new AacEncoder(output, source, rate);
    for (const b of pending) self.written(b);
    return self;
  }

  private written(bytes: Buffer): void {
    this.out.push(bytes);
    let all = this.tail.length > 0 ? Buffer.concat([this.tail, bytes]) : bytes;
    // An ADTS header's 13-bit frame length (bytes 3-5) includes the header.
    while (all.length >= 7) {
      const length = ((all[3] & 3) << 11) | (all[4] << 3) | (all[5] >> 5);
      if (length < 7 || all.length < length) break;
      this.frames++;
      all = all.subarray(length);
    }
    this.tail = Buffer.from(all);
    this.wake?.();
  }

  /**
   * The worker encodes asynchronously, a frame a round trip (~2-5 ms): wait (bounded) for the first new
   * packets of this push, so the first bytes go out with the first chunk of speech; the rest of a long chunk
   * goes with the next push or `end`.
   */
  private async packetsOut(): Promise<void> {
    const due = Math.floor(this.samples / FRAME) - 1;
    const before = this.frames;
    const deadline = Date.now() + PACKET_WAIT_MS;
    while (this.frames < due && this.frames === before && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  private take(): Buffer {
    const b = Buffer.concat(this.out);
    this.out = [];
    return b;
  }

  async push(pcm: Int16Array): Promise<Buffer> {
    if (pcm.length > 0) {
      const data = int16ToFloat(pcm);
      const sample = new mb.AudioSample({ data, format: "f32", numberOfChannels: 1, sampleRate: this.rate, timestamp: this.samples / this.rate });
      this.samples += pcm.length;
      await this.source.add(sample);
      sample.close();
      await this.packetsOut();
    }
    return this.take();
  }

  async end(): Promise<Buffer> {
    this.closed = true;
    await this.output.finalize();
    return this.take();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.output.cancel().catch(() => undefined);
  }
}
