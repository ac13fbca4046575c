/**
 * Per-frame acoustics for turn-taking: level (dB) and pitch. Pitch is found by the McLeod pitch method
 * (the npm package pitchy, MIT) on audio decimated to 8 kHz: a voice's fundamental lies in 60-400 Hz, so
 * 8 kHz loses nothing the tracker needs and quarters its cost against 16 kHz (measured in BENCHMARKS.md:
 * about 40 us a frame). pitchfinder's YIN was measured too: GPL-3.0, and it found no pitch below 150 Hz in
 * 32 ms windows at 16 kHz (most male voices).
 */
import { PitchDetector } from "pitchy";

/** Rate the pitch tracker works at. */
export const PITCH_RATE = 8000;
/** Analysis window at PITCH_RATE: 40 ms, two periods of a 50 Hz voice. */
const PITCH_WINDOW = 320;
/** Voices lie within this; an estimate outside it is an octave error or noise. */
const MIN_F0 = 60;
const MAX_F0 = 400;
/** McLeod's clarity above which a frame counts as voiced (the method's own periodicity measure, 0-1). */
const MIN_CLARITY = 0.8;
/** Level of digital silence, so a frame of zeros has a finite level. */
const FLOOR_DB = -100;

export interface FrameAcoustics {
  /** RMS level of the frame, dBFS. */
  energyDb: number;
  /** Fundamental frequency (Hz) of the last PITCH_WINDOW of audio; 0 when unvoiced. */
  f0: number;
}

/** One stream's tracker: feed every frame in order. */
export class ProsodyTracker {
  private readonly factor: number;
  private readonly detector = PitchDetector.forFloat32Array(PITCH_WINDOW);
  /** The last PITCH_WINDOW samples at PITCH_RATE. */
  private readonly window = new Float32Array(PITCH_WINDOW);
  /** A sample of the input left over when a frame's length is not a multiple of the decimation factor. */
  private carry: number[] = [];

  constructor(sampleRate: number) {
    this.factor = Math.max(1, Math.round(sampleRate / PITCH_RATE));
  }

  frame(samples: Float32Array): FrameAcoustics {
    let sum = 0;
    for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
    const energyDb = sum > 0 ? Math.max(FLOOR_DB, 10 * Math.log10(sum / samples.length)) : FLOOR_DB;
    this.decimate(samples);
    const [f0, clarity] = this.detector.findPitch(this.window, PITCH_RATE);
    const voiced = clarity >= MIN_CLARITY && f0 >= MIN_F0 && f0 <= MAX_F0;
    return { energyDb, f0: voiced ? f0 : 0 };
  }

  /** Average `factor` samples into one (a box low-pass, enough below 400 Hz) and slide them into the window. */
  private decimate(samples: Float32Array): void {
    const input = this.carry.length > 0 ? Float32Array.from([...this.carry, ...samples]) : samples;
    const n = Math.floor(input.length / this.factor);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < this.factor; k++) s += input[i * this.factor + k];
      out[i] = s / this.factor;
    }
    this.carry = Array.from(input.subarray(n * this.factor));
    if (n >= PITCH_WINDOW) {
      this.window.set(out.subarray(n - PITCH_WINDOW));
    } else {
      this.window.copyWithin(0, n);
      this.window.set(out, PITCH_WINDOW - n);
    }
  }
}
