/** Sample-rate conversion: a streaming band-limited resampler, so chunked input joins without clicks. */
import { concatSamples } from "../shared/samples";

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
