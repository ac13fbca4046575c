/** Deepgram-compatible REST routes: POST /v1/listen (raw audio body) and POST /v1/speak (JSON {text}). */
import { createHash } from "node:crypto";
import type { ModelInfo } from "../engines/types";
import { HttpError, readBody, readJson, sendJson } from "../shared/http";
import { inspectAudio } from "./audio";
import { type EncoderSpec, type Encoding, ENCODINGS } from "./codecs";
import { prepareStt, type RequestContext } from "./context";
import { deepgramResponse, type DeepgramWarning } from "./formats";
import { flag, mediaType } from "./http";
import { type ModelCatalog, resolveModel } from "./models";
import { checkSpeed, checkText, streamSpeech } from "./synthesis";

/** Options Deepgram clients commonly send that these engines do not perform: accepted, reported as warnings. */
const UNPERFORMED_FLAGS = ["punctuate", "smart_format", "diarize", "utterances", "paragraphs", "numerals", "profanity_filter", "filler_words", "multichannel"];

/** Shared by the REST and live routes: flags that ask for something unperformed become warnings, bad values a 400. */
export function unperformedWarnings(query: URLSearchParams): DeepgramWarning[] {
  return UNPERFORMED_FLAGS.filter((name) => flag(query, name)).map((parameter) => ({
    parameter,
    type: "unsupported_feature",
    message: `${parameter} is not supported by this deployment's model and was ignored`,
  }));
}

export function refuseCallback(query: URLSearchParams): void {
  if (query.has("callback")) throw new HttpError(400, "invalid_parameter", "callback is not supported: this server makes no outbound requests");
}

/**
 * /v1/speak's model parameter, the same on the REST route and the WebSocket: the TTS model it names, and the voice an
 * Aura name carries (aura-2-thalia-en; the engines' voice table resolves it).
 */
export function speakModel(catalog: ModelCatalog, query: URLSearchParams): { model: ModelInfo; voice?: string } {
  const modelName = query.get("model") ?? undefined;
  const model = resolveModel(catalog, "tts", modelName);
  return { model, voice: modelName?.startsWith("aura") ? modelName : undefined };
}

export async function listen(ctx: RequestContext): Promise<void> {
  const { query } = ctx;
  refuseCallback(query);
  if (mediaType(ctx.req) === "application/json") {
    throw new HttpError(400, "remote_url_unsupported", "this server fetches nothing from outside: send the audio itself as the request body");
  }
  const model = resolveModel(ctx, "stt", query.get("model") ?? undefined);
  ctx.usage.model = model.id;
  const warnings = unperformedWarnings(query);
  ctx.usage.features.push(...warnings.map((w) => w.parameter));
  // Hashed as it arrives rather than in one pass over a possibly large body on the event loop.
  const hash = createHash("sha256");
  const body = await readBody(ctx.req, ctx.config.MAX_BODY_BYTES, (chunk) => hash.update(chunk));
  const encoding = query.get("encoding");
  const audio = inspectAudio(
    body,
    encoding === null ? undefined : { encoding, sampleRate: query.get("sample_rate") ?? undefined, channels: query.get("channels") ?? undefined },
  );
  const input = await prepareStt(ctx, audio);
  ctx.usage.audioSeconds = input.durationS;
  const t0 = performance.now();
  const t = await ctx.speech.transcribe(input.samples, { language: query.get("language") ?? undefined });
  ctx.metrics.realTimeFactor.observe({ feature: "stt" }, (performance.now() - t0) / 1000 / Math.max(input.durationS, 1e-3));
  ctx.metrics.audioSeconds.inc({ feature: "stt" }, input.durationS);
  const sha256 = hash.digest("hex");
  sendJson(ctx.res, 200, deepgramResponse({ t, model, requestId: ctx.requestId, sha256, channels: input.channels, warnings }));
}

interface SpeakRule {
  containers: readonly EncoderSpec["container"][];
  rates: readonly number[];
  /** Bit rates allowed, as [min, max] (bits per second); absent: bit_rate is refused. */
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

/** Check encoding/container/sample_rate/bit_rate against Deepgram's combinations; fill in its defaults. */
function speakSpec(query: URLSearchParams): EncoderSpec {
  const encoding = (query.get("encoding") ?? "linear16") as Encoding;
  if (!ENCODINGS.includes(encoding)) {
    throw new HttpError(400, "unsupported_encoding", `encoding "${encoding.slice(0, 32)}" is not supported; use one of ${ENCODINGS.join(", ")}`);
  }
  const rule = SPEAK_RULES[encoding];
  const container = (query.get("container") ?? rule.containers[0]) as EncoderSpec["container"];
  if (!rule.containers.includes(container)) {
    throw new HttpError(400, "invalid_parameter", `container must be ${rule.containers.join(" or ")} for encoding=${encoding}`);
  }
  const sampleRate = query.has("sample_rate") ? Number(query.get("sample_rate")) : rule.rates[0];
  if (!rule.rates.includes(sampleRate)) {
    throw new HttpError(400, "invalid_parameter", `sample_rate must be ${rule.rates.join(", ")} for encoding=${encoding}`);
  }
  let bitRate: number | undefined;
  if (query.has("bit_rate")) {
    const b = rule.bitRate;
    bitRate = Number(query.get("bit_rate"));
    if (!b) throw new HttpError(400, "invalid_parameter", `bit_rate does not apply to encoding=${encoding}`);
    if (!Number.isInteger(bitRate) || bitRate < b.min || bitRate > b.max || (b.only && !b.only.includes(bitRate))) {
      throw new HttpError(400, "invalid_parameter", `bit_rate must be ${b.only ? b.only.join(" or ") : `an integer from ${b.min} to ${b.max}`} for encoding=${encoding}`);
    }
  } else bitRate = rule.bitRate?.default;
  return { encoding, container, sampleRate, bitRate };
}

export async function speak(ctx: RequestContext): Promise<void> {
  const { query } = ctx;
  refuseCallback(query);
  if (mediaType(ctx.req) !== "application/json") throw new HttpError(400, "invalid_content_type", 'send a JSON body {"text": "..."} (application/json)');
  const { model, voice } = speakModel(ctx, query);
  ctx.usage.model = model.id;
  const spec = speakSpec(query);
  const body = await readJson(ctx.req, ctx.config.MAX_BODY_BYTES);
  const text = checkText(ctx, body.text, "text");
  ctx.usage.characters = text.length;
  const speed = checkSpeed(query.get("speed") ?? undefined, 0.5, 2);
  ctx.usage.features.push(`encoding:${spec.encoding}`, `container:${spec.container}`);
  await streamSpeech(ctx, text, { speed, voice }, {
    spec,
    headers: { "dg-model-name": model.id, "dg-char-count": String(text.length), "dg-request-id": ctx.requestId },
  });
}
