/** Deepgram-compatible REST routes: POST /v1/listen (raw audio body) and POST /v1/speak (JSON {text}). */
import { createHash } from "node:crypto";
import { inspectAudio, parseRate } from "./audio";
import { prepareStt, type RequestContext } from "./context";
import { HttpError } from "./errors";
import { deepgramResponse, type DeepgramWarning } from "./formats";
import { flag, mediaType, readBody, readJson, sendJson } from "./http";
import { resolveModel } from "./models";
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

export async function listen(ctx: RequestContext): Promise<void> {
  const { query } = ctx;
  refuseCallback(query);
  if (mediaType(ctx.req) === "application/json") {
    throw new HttpError(400, "remote_url_unsupported", "this server fetches nothing from outside: send the audio itself as the request body");
  }
  const model = resolveModel(ctx.speech, "stt", query.get("model") ?? undefined);
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

export async function speak(ctx: RequestContext): Promise<void> {
  const { query } = ctx;
  refuseCallback(query);
  if (mediaType(ctx.req) !== "application/json") throw new HttpError(400, "invalid_content_type", 'send a JSON body {"text": "..."} (application/json)');
  const modelName = query.get("model") ?? undefined;
  const model = resolveModel(ctx.speech, "tts", modelName);
  ctx.usage.model = model.id;
  const body = await readJson(ctx.req, ctx.config.MAX_BODY_BYTES);
  const text = checkText(ctx, body.text, "text");
  ctx.usage.characters = text.length;
  // Deepgram defaults to mp3; this server encodes no compressed audio, so its default is linear16 in WAV.
  const encoding = query.get("encoding") ?? "linear16";
  if (encoding !== "linear16") throw new HttpError(400, "unsupported_encoding", `encoding "${encoding.slice(0, 32)}" is not supported; use linear16`);
  const container = query.get("container") ?? "wav";
  if (container !== "wav" && container !== "none") throw new HttpError(400, "invalid_parameter", "container must be wav or none");
  const sampleRate = query.has("sample_rate") ? parseRate(query.get("sample_rate") ?? undefined) : 24000;
  const speed = checkSpeed(query.get("speed") ?? undefined, 0.5, 2);
  ctx.usage.features.push(`container:${container}`);
  // Aura names carry the voice (aura-2-thalia-en); the engines' voice table resolves them.
  const voice = modelName?.startsWith("aura") ? modelName : undefined;
  await streamSpeech(ctx, text, { speed, voice }, {
    container,
    sampleRate,
    headers: { "dg-model-name": model.id, "dg-char-count": String(text.length), "dg-request-id": ctx.requestId },
  });
}
