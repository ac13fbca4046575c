/**
 * Deepgram's speak parameters: the query of POST /v1/speak (every encoding, with Deepgram's container, sample_rate
 * and bit_rate combinations), of the speak WebSocket GET /v1/speak (raw audio only), and that socket's messages.
 */
import { z } from "zod/v4";
import { ENCODINGS, type EncoderSpec, type Encoding } from "../audio/codecs/stream-encoder";
import { MAX_RATE, MIN_RATE } from "../audio/pcm";
import { integer, number, refused, withCode } from "./fields";
import { modelField } from "./models";

interface SpeakRule {
  containers: readonly EncoderSpec["container"][];
  rates: readonly number[];
  /** Bit rates allowed (bits per second); absent: bit_rate is refused. */
  bitRate?: { min: number; max: number; default: number; only?: readonly number[] };
}

/**
 * Deepgram's TTS "audio format combinations": which container, sample_rate and bit_rate each encoding takes;
 * the first container and rate are the defaults. REST defaults: linear16 in WAV at 24 kHz.
 */
const SPEAK_RULES: Record<Encoding, SpeakRule> = {
  linear16: { containers: ["wav", "none"], rates: [24000, 8000, 16000, 32000, 48000] },
  mulaw: { containers: ["wav", "none"], rates: [8000, 16000] },
  alaw: { containers: ["wav", "none"], rates: [8000, 16000] },
  mp3: { containers: ["none"], rates: [22050], bitRate: { min: 32000, max: 48000, default: 48000, only: [32000, 48000] } },
  opus: { containers: ["ogg"], rates: [48000], bitRate: { min: 4000, max: 650000, default: 12000 } },
  flac: { containers: ["none"], rates: [48000, 8000, 16000, 22050, 32000] },
  aac: { containers: ["none"], rates: [22050], bitRate: { min: 4000, max: 192000, default: 48000 } },
};

const rulesText = (pick: (e: Encoding, r: SpeakRule) => string | undefined) =>
  ENCODINGS.flatMap((e) => {
    const t = pick(e, SPEAK_RULES[e]);
    return t ? [`${e}: ${t}`] : [];
  }).join("; ");

const model = modelField("tts", "Model name: this deployment's TTS model or a client's alias; an Aura name (aura-2-thalia-en) picks its voice");
const speed = number(0.5, 2, "Speaking rate (1: normal)").default(1);
const callback = refused("callback is not supported: this server makes no outbound requests");

/** POST /v1/speak. */
export const speakQuery = z
  .object({
    model,
    encoding: withCode(z.enum(ENCODINGS).default("linear16").meta({ description: "Output encoding" }), "unsupported_encoding"),
    container: z.enum(["wav", "ogg", "none"]).optional().meta({ description: `Container (the first is the default): ${rulesText((_, r) => r.containers.join(" or "))}` }),
    sample_rate: integer(MIN_RATE, MAX_RATE, `Sample rate (Hz; the first is the default): ${rulesText((_, r) => r.rates.join(", "))}`).optional(),
    bit_rate: integer(4000, 650000, `Bit rate (b/s): ${rulesText((_, r) => r.bitRate && `${r.bitRate.only?.join(" or ") ?? `${r.bitRate.min}-${r.bitRate.max}`} (default ${r.bitRate.default})`)}`).optional(),
    speed,
    callback,
  })
  .superRefine((q, ctx) => {
    const rule = SPEAK_RULES[q.encoding];
    const refuse = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
    if (q.container !== undefined && !rule.containers.includes(q.container)) refuse("container", `container must be ${rule.containers.join(" or ")} for encoding=${q.encoding}`);
    if (q.sample_rate !== undefined && !rule.rates.includes(q.sample_rate)) refuse("sample_rate", `sample_rate must be ${rule.rates.join(", ")} for encoding=${q.encoding}`);
    if (q.bit_rate !== undefined) {
      const b = rule.bitRate;
      if (!b) refuse("bit_rate", `bit_rate does not apply to encoding=${q.encoding}`);
      else if (q.bit_rate < b.min || q.bit_rate > b.max || (b.only && !b.only.includes(q.bit_rate))) {
        refuse("bit_rate", `bit_rate must be ${b.only ? b.only.join(" or ") : `an integer from ${b.min} to ${b.max}`} for encoding=${q.encoding}`);
      }
    }
  });

export type SpeakQuery = z.output<typeof speakQuery>;

/** POST /v1/speak's JSON body. */
export const speakBody = z.object({
  text: withCode(
    z.string({ error: "text must be a non-empty string" }).refine((t) => t.trim().length > 0, { error: "text must be a non-empty string" }).meta({ description: "The text to speak" }),
    "invalid_input",
  ),
});

export type SpeakBody = z.output<typeof speakBody>;

/** What to encode, with Deepgram's defaults filled in. */
export function speakEncoding(q: SpeakQuery): EncoderSpec {
  const rule = SPEAK_RULES[q.encoding];
  return { encoding: q.encoding, container: q.container ?? rule.containers[0], sampleRate: q.sample_rate ?? rule.rates[0], bitRate: q.bit_rate ?? rule.bitRate?.default };
}

/** The speak WebSocket's encodings (raw samples only), with Deepgram's default rate for each. */
const SOCKET_ENCODINGS = { linear16: 24000, mulaw: 8000, alaw: 8000 } as const;
export type SocketEncoding = keyof typeof SOCKET_ENCODINGS;
const socketEncodings = Object.keys(SOCKET_ENCODINGS) as SocketEncoding[];

/** GET /v1/speak. */
export const speakSocketQuery = z.object({
  model,
  encoding: withCode(
    z
      .enum(socketEncodings as [SocketEncoding, ...SocketEncoding[]], {
        error: (issue) => `encoding "${String(issue.input).slice(0, 32)}" is not supported on the speak WebSocket; use ${socketEncodings.join(", ")}`,
      })
      .default("linear16")
      .meta({ description: "Raw audio encoding" }),
    "unsupported_encoding",
  ),
  container: z.literal("none", { error: "the speak WebSocket sends raw audio: container must be none" }).optional().meta({ description: "Raw audio only: none" }),
  sample_rate: integer(MIN_RATE, MAX_RATE, `Output rate (Hz); default ${socketEncodings.map((e) => `${SOCKET_ENCODINGS[e]} for ${e}`).join(", ")}`).optional(),
  speed,
  callback,
});

export type SpeakSocketQuery = z.output<typeof speakSocketQuery>;

export const socketSampleRate = (q: SpeakSocketQuery): number => q.sample_rate ?? SOCKET_ENCODINGS[q.encoding];

/** What a client sends on the speak WebSocket. */
export const speakSocketMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("Speak"), text: z.string({ error: "Speak needs a text string" }) }).meta({ description: "Text to speak; synthesis starts at each sentence end" }),
  z.object({ type: z.literal("Flush") }).meta({ description: "Speak what is pending; Flushed follows once its audio is sent" }),
  z.object({ type: z.literal("Clear") }).meta({ description: "Drop the unspoken text and stop the sentence being spoken (barge-in)" }),
  z.object({ type: z.literal("Close") }).meta({ description: "Speak what is pending, then close" }),
], { error: "unknown message type; expected Speak, Flush, Clear or Close" });

export type SpeakSocketMessage = z.output<typeof speakSocketMessage>;
