/**
 * OpenAI Realtime transcription (https://platform.openai.com/docs/api-reference/realtime): the query of
 * GET /v1/realtime, the client events of a transcription session in both the beta shape (transcription_session.*,
 * which LiveKit's plugin speaks) and the GA shape (session.update with type transcription, the openai SDK's), and
 * the input formats they name. Fields OpenAI defines that transcription does not use are accepted and ignored.
 */
import { z } from "zod/v4";
import type { SampleFormat } from "../audio/pcm";
import { integer, text, withCode } from "./fields";

/**
 * The input formats by their beta names (input_audio_format), with the GA name (audio.input.format.type):
 * 16-bit little-endian PCM at 24 kHz, or G.711 at telephony's 8 kHz; all mono.
 */
export const INPUT_FORMATS = {
  pcm16: { type: "audio/pcm", format: { kind: "int", bits: 16 }, rate: 24000 },
  g711_ulaw: { type: "audio/pcmu", format: { kind: "mulaw", bits: 8 }, rate: 8000 },
  g711_alaw: { type: "audio/pcma", format: { kind: "alaw", bits: 8 }, rate: 8000 },
} satisfies Record<string, { type: string; format: SampleFormat; rate: number }>;
export type InputFormat = keyof typeof INPUT_FORMATS;
const formatNames = Object.keys(INPUT_FORMATS) as [InputFormat, ...InputFormat[]];

/** OpenAI's server VAD default. */
export const DEFAULT_SILENCE_MS = 500;

/** GET /v1/realtime. */
export const realtimeQuery = z.object({
  intent: withCode(
    z.literal("transcription", { error: "this server serves realtime transcription only: use intent=transcription" }).optional().meta({ description: "Session kind: transcription (the beta event names)" }),
    "invalid_intent",
  ),
  model: z.string().optional().meta({ description: "Accepted (the openai SDK sends one); the session's transcription model is set by session.update" }),
});

const transcription = z
  .object({
    model: z.string().optional().meta({ description: "Model name: this deployment's STT model or a client's alias for it" }),
    language: text("BCP-47 language, e.g. en"),
  })
  .nullable()
  .optional();

const turnDetection = z
  .object({
    type: z.literal("server_vad", { error: "only server_vad (or null, for manual commits) is supported" }).optional(),
    silence_duration_ms: integer(0, 10_000, "Silence (ms) that ends a turn").optional(),
  })
  .nullable()
  .optional()
  .meta({ description: "Server VAD ends turns after silence_duration_ms; null leaves turns to input_audio_buffer.commit" });

/** transcription_session.update's session (beta). */
const betaSession = z.object({
  input_audio_format: z.enum(formatNames).optional().meta({ description: "pcm16 (24 kHz), g711_ulaw or g711_alaw (8 kHz)" }),
  input_audio_transcription: transcription,
  turn_detection: turnDetection,
});

const gaFormat = z
  .object({ type: z.enum(formatNames.map((f) => INPUT_FORMATS[f].type) as [string, ...string[]]), rate: z.number().optional() })
  .refine((f) => f.rate === undefined || Object.values(INPUT_FORMATS).some((i) => i.type === f.type && i.rate === f.rate), {
    error: `use audio/pcm at ${INPUT_FORMATS.pcm16.rate} Hz, audio/pcmu or audio/pcma (8 kHz)`,
  });

/** session.update's session (GA): a transcription session. */
const gaSession = z.object({
  type: z.literal("transcription", { error: 'this server serves transcription sessions only: session.type must be "transcription"' }).optional(),
  audio: z
    .object({ input: z.object({ format: gaFormat.optional(), transcription, turn_detection: turnDetection }).optional() })
    .optional(),
});

const eventId = z.string().optional();

/** What a client sends on a transcription session. */
export const realtimeClientEvent = z.discriminatedUnion(
  "type",
  [
    z.object({ type: z.literal("transcription_session.update"), event_id: eventId, session: betaSession }),
    z.object({ type: z.literal("session.update"), event_id: eventId, session: gaSession }),
    z.object({ type: z.literal("input_audio_buffer.append"), event_id: eventId, audio: z.string().meta({ description: "Base64 audio in the session's input format" }) }),
    z.object({ type: z.literal("input_audio_buffer.commit"), event_id: eventId }),
    z.object({ type: z.literal("input_audio_buffer.clear"), event_id: eventId }),
  ],
  { error: "unsupported event type: this server serves transcription sessions" },
);

export type RealtimeClientEvent = z.output<typeof realtimeClientEvent>;

/** The session settings an update sets (what it leaves out stays as it was). */
export interface SessionUpdate {
  /** Server VAD silence (ms), or null: turns end only on commit. */
  silenceMs?: number | null;
  language?: string;
  model?: string;
  format?: InputFormat;
}

type Transcription = z.output<typeof transcription>;
type TurnDetection = z.output<typeof turnDetection>;

function common(t: Transcription, turn: TurnDetection): SessionUpdate {
  return {
    ...(t?.model !== undefined ? { model: t.model } : {}),
    ...(t?.language !== undefined ? { language: t.language } : {}),
    ...(turn === undefined ? {} : { silenceMs: turn === null ? null : (turn.silence_duration_ms ?? DEFAULT_SILENCE_MS) }),
  };
}

/** The settings a session update event sets. */
export function sessionUpdate(event: Extract<RealtimeClientEvent, { type: "transcription_session.update" | "session.update" }>): SessionUpdate {
  if (event.type === "transcription_session.update") {
    const s = event.session;
    return { ...common(s.input_audio_transcription, s.turn_detection), ...(s.input_audio_format ? { format: s.input_audio_format } : {}) };
  }
  const input = event.session.audio?.input;
  const f = input?.format;
  const format = f && formatNames.find((name) => INPUT_FORMATS[name].type === f.type);
  return { ...common(input?.transcription, input?.turn_detection), ...(format ? { format } : {}) };
}
