import type { LiveOptions } from "../params/deepgram-listen";

/**
 * The seam between the HTTP/WebSocket API and the speech engines. The API only ever sees `Speech`:
 * all CPU-heavy work behind it runs in worker threads, so the event loop stays free.
 *
 * Audio crossing this seam is always mono float32 PCM in [-1, 1] at the rate the model asks for
 * (`Speech.stt.sampleRate`); decoding, channel mixing and resampling happen in the API layer.
 */

export interface Word {
  word: string;
  /** Seconds from the start of the audio. */
  start: number;
  end: number;
  confidence: number;
}

export interface Transcript {
  text: string;
  words: Word[];
  /** Overall confidence in [0, 1]. */
  confidence: number;
  /** Seconds of audio this transcript covers. */
  durationS: number;
  language: string;
}

/**
 * Words a request wants recognised (Deepgram's `keyterm` and `keywords`, OpenAI's `prompt`). An engine gives
 * the words its dictionary lacks a pronunciation and makes them recognisable for this request only.
 */
export interface Vocabulary {
  /** Single words or short phrases, as the client wrote them ("PBX", "Digium", "Waldo's"). */
  terms: string[];
}

/** At most this many terms, each at most MAX_TERM_CHARS: each new word costs the search time and memory. */
export const MAX_VOCABULARY_TERMS = 100;
export const MAX_TERM_CHARS = 50;

export interface TranscribeOptions {
  /** BCP-47 language; engines reject languages they cannot serve. */
  language?: string;
  vocabulary?: Vocabulary;
}

/** Telephony rates (G.711 and friends are 8 kHz): audio with nothing above 4 kHz. */
export const NARROWBAND_MAX_RATE = 8000;
export const isNarrowband = (sourceRate: number | undefined): boolean => sourceRate !== undefined && sourceRate > 0 && sourceRate <= NARROWBAND_MAX_RATE;

export interface SynthesizeOptions {
  voice?: string;
  /** 0.25-4.0, 1 = normal. */
  speed?: number;
}

/** Interim cadence for callers that set none: an interim result for every this many ms of speech. */
export const DEFAULT_INTERIM_MS = 250;

/** How a live session endpoints and reports. */
export interface StreamOptions {
  /**
   * The live options, resolved, as one object: Deepgram's names, defaults and semantics (src/params/deepgram-listen.ts
   * declares them once; the realtime route maps OpenAI's server VAD onto them). The session performs each.
   */
  live: LiveOptions;
  /**
   * The rate (Hz) the audio had before the API layer resampled it to `stt.sampleRate`, where known. At or
   * below NARROWBAND_MAX_RATE (telephony) an engine may decode it with settings tuned for narrowband speech.
   */
  sourceRate?: number;
  /** An interim result for every this many ms of speech (default DEFAULT_INTERIM_MS). */
  interimMs?: number;
  /** Terms the session's decoder is biased towards (the vocabulary parameters); Configure can replace them. */
  vocabulary?: Vocabulary;
}

/** A live transcription session; lives in one worker, which keeps its decoder state. */
export interface SttStreamSession {
  /** Feed audio; resolves with the results and events produced by this chunk (VAD endpointing). */
  push(samples: Float32Array): Promise<StreamEvent[]>;
  /** Flush: return the final result for everything pushed so far. */
  finalize(): Promise<StreamEvent[]>;
  /** Change the session's vocabulary (Deepgram's Configure): it applies from the next utterance on. */
  configure(options: { vocabulary: Vocabulary }): Promise<void>;
  close(): Promise<void>;
}

export type StreamEvent =
  | StreamResult
  /** VAD heard speech begin; `timestamp`: its estimated onset, seconds on the stream clock. */
  | { kind: "speech-started"; timestamp: number }
  /** utteranceEndMs of stream time passed since `lastWordEnd` (seconds) with no new speech. */
  | { kind: "utterance-end"; lastWordEnd: number };

export interface StreamResult {
  kind: "result";
  transcript: Transcript;
  /** Start of this segment, seconds from the start of the stream. */
  start: number;
  isFinal: boolean;
  /** True when VAD saw the end of an utterance (Deepgram's speech_final). */
  speechFinal: boolean;
}

export interface ModelInfo {
  id: string;
  kind: "stt" | "tts";
  engine: string;
  /** What the model runs on, decided at start-up (engines/providers.ts). */
  provider: "cpu" | "cuda";
  sampleRate: number;
  languages: string[];
  /** TTS only. */
  voices?: string[];
}

/** Thrown when the bounded queue in front of the workers is full: the API answers 429 at once. */
export class QueueFullError extends Error {
  constructor(readonly retryAfterS: number) {
    super("server busy: the work queue is full");
    this.name = "QueueFullError";
  }
}

/** Thrown for input an engine rejects (unsupported language, unknown voice): the API answers 400. */
export class EngineInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EngineInputError";
  }
}

/**
 * What one engine lane holds and holds now, in the lane's own unit: `live` counts live streams (a synthesis
 * or a transcription running on a live worker holds a whole worker: STREAMS_PER_WORKER streams' worth),
 * `batch` counts batch transcriptions. Capacity is what the replica serves without queueing, so
 * `inflight / capacity` is the load ratio the autoscaler targets; queued work takes it above 1.
 */
export interface LaneLoad {
  readonly lane: "live" | "batch";
  readonly capacity: number;
  readonly inflight: number;
}

export interface PoolStats {
  queueDepth: number;
  busyWorkers: number;
  workers: number;
  /** `live` always; `batch` only when batch transcriptions have their own workers (BATCH_WORKERS > 0). */
  lanes: LaneLoad[];
}

export interface Speech {
  readonly stt: ModelInfo;
  readonly tts: ModelInfo;
  /** True once every model is loaded in every worker. */
  readonly ready: boolean;
  transcribe(samples: Float32Array, options?: TranscribeOptions): Promise<Transcript>;
  /** PCM 16-bit mono chunks at `tts.sampleRate`, yielded as they are synthesized. */
  synthesize(text: string, options?: SynthesizeOptions): AsyncIterable<Int16Array>;
  openStream(options: StreamOptions): Promise<SttStreamSession>;
  /**
   * Throws QueueFullError when a job of this kind (default: a transcription) submitted now would be refused, so the API can answer 429
   * before it reads and decodes a request body. Passing is no reservation: the job itself may still be refused.
   */
  admit(kind?: "transcribe" | "synthesize"): void;
  /** For metrics and health: queued jobs, busy workers, pool size, and each lane's load against its capacity. */
  stats(): PoolStats;
  /** Finish in-flight work, then stop the workers. */
  close(): Promise<void>;
}
