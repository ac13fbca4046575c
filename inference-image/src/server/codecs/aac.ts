/**
 * AAC speech out: ffmpeg's native AAC-LC encoder compiled to WASM (@mediabunny/aac-encoder, LGPL libavcodec
 * under an MPL wrapper; it runs in a worker thread of its own) and Mediabunny's ADTS muxer. No child process.
 */
import { join } from "node:path";
import type * as Mediabunny from "mediabunny";
import { registerAacEncoder } from "@mediabunny/aac-encoder";
import type { StreamEncoder } from "./encoders";

/**
 * Mediabunny's ES module build, by path: the encoder extension imports that build and registers itself in its
 * registry, while `require("mediabunny")` would load the separate CommonJS build, which never sees the encoder.
 */
const main = require.resolve("mediabunny");
const mb = require(join(main.slice(0, main.lastIndexOf("/dist/")), "dist/modules/src/index.js")) as typeof Mediabunny;
registerAacEncoder();

export class AacEncoder implements StreamEncoder {
  readonly contentType = "audio/aac";
  private out: Buffer[] = [];
  private samples = 0;
  private closed = false;

  private constructor(
    private readonly output: Mediabunny.Output,
    private readonly source: Mediabunny.AudioSampleSource,
    private readonly rate: number,
  ) {}

  static async create(rate: number, bitRate: number): Promise<AacEncoder> {
    let self: AacEncoder | undefined;
    const pending: Buffer[] = [];
    const target = new mb.StreamTarget(
      new WritableStream<Mediabunny.StreamTargetChunk>({ write: (c) => void (self ? self.out : pending).push(Buffer.from(c.data)) }),
    );
    const output = new mb.Output({ format: new mb.AdtsOutputFormat(), target });
    const source = new mb.AudioSampleSource({ codec: "aac", bitrate: bitRate });
    output.addAudioTrack(source);
    await output.start();
    self = new AacEncoder(output, source, rate);
    self.out.push(...pending);
    return self;
  }

  private take(): Buffer {
    const b = Buffer.concat(this.out);
    this.out = [];
    return b;
  }

  async push(pcm: Int16Array): Promise<Buffer> {
    if (pcm.length > 0) {
      const data = new Float32Array(pcm.length);
      for (let i = 0; i < pcm.length; i++) data[i] = pcm[i] / 32768;
      const sample = new mb.AudioSample({ data, format: "f32", numberOfChannels: 1, sampleRate: this.rate, timestamp: this.samples / this.rate });
      this.samples += pcm.length;
      await this.source.add(sample);
      sample.close();
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
