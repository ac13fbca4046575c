/**
 * Deepgram's listen parameters (https://developers.deepgram.com/reference): the query of POST /v1/listen and of
 * the live WebSocket GET /v1/listen, which take what they share from one declaration. The live options the engine
 * performs travel to it as one resolved object (`LiveOptions`, engines/streaming.ts reads it).
 */
import { z } from "zod/v4";
import { MAX_CHANNELS, MAX_RATE, MIN_RATE, RAW_ENCODINGS, rawAudio, type RawEncoding } from "../audio/pcm";
import type { DeclaredAudio } from "../audio/upload";
import { flag, integer, integerOrFalse, refused, text, withCode } from "./fields";
import { modelField } from "./models";

/** Deepgram's documented endpointing default: speech_final after 10 ms of silence (developers.deepgram.com/docs/endpointing). */
const DEEPGRAM_ENDPOINTING_MS = 10;

/** Requested features this deployment's engines do not perform: accepted, and reported (metadata.warnings, usage). */
const UNPERFORMED = ["punctuate", "smart_format", "diarize", "utterances", "paragraphs", "numerals", "profanity_filter", "filler_words", "multichannel"] as const;

const language = text("BCP-47 language, e.g. en; a language the model does not serve is a 400");

/** The live options the engine performs, with Deepgram's names, defaults and semantics (the realtime route maps its session onto them). */
export const liveOptionsSchema = z.object({
  language,
  interim_results: flag(false, "Send interim (is_final=false) results as an utterance goes"),
  endpointing: integerOrFalse(0, 60_000, DEEPGRAM_ENDPOINTING_MS, "Silence (ms) that ends an utterance with speech_final; false: finals only on Finalize or CloseStream").default(
    DEEPGRAM_ENDPOINTING_MS,
  ),
  utterance_end_ms: integer(1, 60_000, "Send UtteranceEnd once this long (ms) passed after the last word").optional(),
  vad_events: flag(false, "Send SpeechStarted at speech onsets"),
  filler_words: flag(false, "Keep the filler words uh and um in transcripts; false drops them, as Deepgram does"),
});

export type LiveOptions = z.output<typeof liveOptionsSchema>;

/** Deepgram's defaults, for callers that set no live option. */
export const LIVE_DEFAULTS: LiveOptions = liveOptionsSchema.parse({});

const shared = {
  model: modelField("stt", "Model name: this deployment's STT model or a client's alias for it"),
  language,
  encoding: withCode(
    z.enum([...RAW_ENCODINGS, "flac", "opus"]).optional().meta({ description: "Encoding of headerless audio; flac and opus name containers; omit for containers (recognised by their bytes)" }),
    "unsupported_encoding",
  ),
  sample_rate: integer(MIN_RATE, MAX_RATE, "Sample rate (Hz) of headerless audio; required with a raw encoding").optional(),
  channels: integer(1, MAX_CHANNELS, "Channels of headerless audio (mixed to mono)").default(1),
  callback: refused("callback is not supported: this server makes no outbound requests"),
  ...(Object.fromEntries(UNPERFORMED.map((name) => [name, flag(false, "Accepted; not performed by this deployment's model (reported in metadata.warnings)")])) as Record<
    (typeof UNPERFORMED)[number],
    ReturnType<typeof flag>
  >),
};

const isRaw = (encoding: string | undefined): encoding is RawEncoding => (RAW_ENCODINGS as readonly (string | undefined)[]).includes(encoding);

function rawNeedsRate(q: { encoding?: string; sample_rate?: number }, ctx: z.RefinementCtx): void {
  if (isRaw(q.encoding) && q.sample_rate === undefined) ctx.addIssue({ code: "custom", path: ["sample_rate"], message: `encoding=${q.encoding} needs sample_rate` });
}

/** POST /v1/listen. */
export const listenQuery = z.object(shared).superRefine(rawNeedsRate);
/** GET /v1/listen: what uploads take, and the live options (which override a shared flag the engine performs live). */
export const liveQuery = z.object({ ...shared, ...liveOptionsSchema.shape }).superRefine(rawNeedsRate);

export type ListenQuery = z.output<typeof listenQuery>;
export type LiveQuery = z.output<typeof liveQuery>;

/** The live options out of a live query: the one object the engine gets. */
export function liveOptions(q: LiveQuery): LiveOptions {
  return Object.fromEntries(Object.keys(liveOptionsSchema.shape).map((k) => [k, q[k as keyof LiveOptions]])) as LiveOptions;
}

/** Features the query asks for that are not performed (live: those the engine performs are not). */
export function unperformed(q: ListenQuery | LiveQuery, live = false): string[] {
  return UNPERFORMED.filter((name) => q[name] && !(live && name in liveOptionsSchema.shape));
}

/** How the query declares the audio: headerless raw audio, a container named by encoding, or nothing (recognised by its bytes). */
export function declaredAudio(q: ListenQuery | LiveQuery): DeclaredAudio | undefined {
  if (q.encoding === undefined) return undefined;
  if (!isRaw(q.encoding)) return q.encoding;
  return rawAudio(q.encoding, q.sample_rate!, q.channels);
}

/** What a client sends on the live WebSocket besides audio (text frames). */
export const liveControlMessage = z.discriminatedUnion(
  "type",
  [
    z.object({ type: z.literal("KeepAlive") }).meta({ description: "Keeps an idle stream open" }),
    z.object({ type: z.literal("Finalize") }).meta({ description: "Finalize the utterance in progress now (its Results carry from_finalize)" }),
    z.object({ type: z.literal("CloseStream") }).meta({ description: "Flush the results, send Metadata, close" }),
  ],
  { error: "unknown control message type; expected KeepAlive, Finalize or CloseStream" },
);

export type LiveControlMessage = z.output<typeof liveControlMessage>;
