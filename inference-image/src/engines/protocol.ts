/** Messages between the pool (main thread) and an engine worker. */
import type { LiveOptions } from "../params/deepgram-listen";
import type { ModelInfo, StreamEvent, Transcript, TurnOptions, Vocabulary } from "./types";

export type Job =
  | { kind: "transcribe"; samples: Float32Array; vocabulary?: Vocabulary }
  | { kind: "synthesize"; text: string; voice: string; speed: number }
  | { kind: "stream-open"; streamId: number; language: string; narrowband: boolean; interimMs: number; live: LiveOptions; vocabulary?: Vocabulary; turns?: TurnOptions }
  | { kind: "stream-configure"; streamId: number; vocabulary?: Vocabulary; turns?: Partial<TurnOptions> }
  | { kind: "stream-push"; streamId: number; samples: Float32Array }
  | { kind: "stream-finalize"; streamId: number }
  | { kind: "stream-close"; streamId: number };

/** "close": free the engines' native memory before the pool stops the thread (terminate() would leave it behind). */
export type ToWorker = ({ id: number } & Job) | { id: number; kind: "cancel" } | { kind: "close" };

export type JobValue = Transcript | StreamEvent[] | null;

export type FromWorker =
  /** `tts` only from realtime workers (batch workers load no TTS model). */
  | { type: "ready"; stt: ModelInfo; tts?: { info: ModelInfo; defaultVoice: string } }
  | { type: "load-error"; name: string; message: string }
  | { type: "result"; id: number; value: JobValue }
  | { type: "chunk"; id: number; pcm: Int16Array }
  | { type: "error"; id: number; name: string; message: string }
  | { type: "closed" };
