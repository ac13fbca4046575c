/** The part of sherpa-onnx-node (which ships no types) that the engines use; shapes from its types.js. */
declare module "sherpa-onnx-node" {
  export interface SpeechSegment {
    start: number;
    samples: Float32Array;
  }
  export interface VadConfig {
    sileroVad: {
      model: string;
      threshold: number;
      minSilenceDuration: number;
      minSpeechDuration: number;
      windowSize: number;
      maxSpeechDuration: number;
    };
    sampleRate: number;
    numThreads: number;
    provider: string;
    debug: number;
  }
  export class Vad {
    constructor(config: VadConfig, bufferSizeInSeconds: number);
    acceptWaveform(samples: Float32Array): void;
    isEmpty(): boolean;
    isDetected(): boolean;
    pop(): void;
    front(enableExternalBuffer?: boolean): SpeechSegment;
    reset(): void;
    flush(): void;
  }
  export interface OfflineRecognizerResult {
    text: string;
    lang?: string;
    timestamps?: number[];
    tokens?: string[];
    ys_log_probs?: number[];
  }
  export class OfflineStream {
    acceptWaveform(wave: { samples: Float32Array; sampleRate: number }): void;
  }
  export class OfflineRecognizer {
    constructor(config: Record<string, unknown>);
    createStream(): OfflineStream;
    decode(stream: OfflineStream): void;
    getResult(stream: OfflineStream): OfflineRecognizerResult;
  }
  export class OfflineTts {
    constructor(config: Record<string, unknown>);
    readonly numSpeakers: number;
    readonly sampleRate: number;
    generate(request: { text: string; sid: number; speed: number; enableExternalBuffer?: boolean }): {
      samples: Float32Array;
      sampleRate: number;
    };
  }
}
