/**
 * OpenAI's audio parameters: the multipart form of POST /v1/audio/transcriptions and the JSON body of
 * POST /v1/audio/speech (https://platform.openai.com/docs/api-reference/audio). Fields OpenAI defines that
 * this server does not use (prompt, temperature, instructions, ...) are accepted and ignored, as unknown ones are.
 */
import { z } from "zod/v4";
import { flag, number, text, withCode } from "./fields";
import { modelField } from "./models";

export const TRANSCRIPTION_FORMATS = ["json", "text", "verbose_json", "srt", "vtt"] as const;
/** OpenAI's speech formats; mp3 is its default when `response_format` is omitted. */
export const SPEECH_FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"] as const;
export type SpeechFormat = (typeof SPEECH_FORMATS)[number];

/** POST /v1/audio/transcriptions: the form's fields (a field named `x[]` is a list; see server/multipart.ts). */
export const transcriptionForm = z.object({
  file: withCode(
    z
      .custom<Buffer>((v) => Buffer.isBuffer(v), { error: "the `file` part is missing" })
      .meta({ description: "Audio in any supported format; the container is recognised by its bytes", type: "string", contentMediaType: "application/octet-stream" }),
    "missing_file",
  ),
  model: modelField("stt", "Model name: this deployment's STT model or a client's alias for it"),
  language: text("BCP-47 language, e.g. en; a language the model does not serve is a 400"),
  response_format: z.enum(TRANSCRIPTION_FORMATS).default("json").meta({ description: "Transcript format" }),
  "timestamp_granularities[]": z
    .array(z.enum(["word", "segment"]))
    .default([])
    .meta({ description: "verbose_json: word and/or segment timestamps (segment when none is given)" }),
  stream: flag(false, "Answer as server-sent events (transcript.text.delta, transcript.text.done)"),
});

export type TranscriptionForm = z.output<typeof transcriptionForm>;

/** POST /v1/audio/speech. */
export const speechBody = z.object({
  model: modelField("tts", "Model name: this deployment's TTS model or a client's alias for it"),
  input: withCode(
    z.string({ error: "input must be a non-empty string" }).refine((s) => s.trim().length > 0, { error: "input must be a non-empty string" }).meta({ description: "The text to speak" }),
    "invalid_input",
  ),
  voice: z.string().optional().meta({ description: "A voice of the model, or an OpenAI voice name (mapped to one)" }),
  response_format: withCode(
    z.enum(SPEECH_FORMATS).default("mp3").meta({ description: "opus: Ogg Opus; aac: ADTS; pcm: 24 kHz 16-bit mono little-endian" }),
    "unsupported_response_format",
  ),
  speed: number(0.25, 4, "Speaking rate (1: normal)").default(1),
  stream_format: z.literal("audio").optional().meta({ description: "audio: the audio itself, streamed as it is synthesized (the only format served)" }),
});

export type SpeechBody = z.output<typeof speechBody>;
