/** Deepgram-compatible REST routes: POST /v1/listen (raw audio body) and POST /v1/speak (JSON {text}). */
import { createHash } from "node:crypto";
import { decodeUpload, inspectAudio } from "../audio/upload";
import type { ModelInfo, Speech } from "../engines/types";
import { declaredAudio, type ListenQuery, unperformed } from "../params/deepgram-listen";
import { type SpeakBody, speakEncoding, type SpeakQuery } from "../params/deepgram-speak";
import { HttpError, readBody } from "../shared/http";
import { jsonReply, type Reply, type RequestContext } from "./context";
import { deepgramResponse, type DeepgramWarning } from "./formats";
import { mediaType } from "./http";
import { resolveModel } from "./models";
import { checkTextLength, streamSpeech } from "./synthesis";

/** Requested features this deployment does not perform, as Deepgram reports them (metadata.warnings). */
export function warnings(features: string[]): DeepgramWarning[] {
  return features.map((parameter) => ({ parameter, type: "unsupported_feature", message: `${parameter} is not supported by this deployment's model and was ignored` }));
}

/**
 * /v1/speak's model parameter, the same on the REST route and the WebSocket: the TTS model it names, and the voice an
 * Aura name carries (aura-2-thalia-en; the engines' voice table resolves it).
 */
export function speakModel(speech: Speech, name: string | undefined): { model: ModelInfo; voice?: string } {
  return { model: resolveModel(speech, "tts", name), voice: name?.startsWith("aura") ? name : undefined };
}

export async function listen(ctx: RequestContext, query: ListenQuery): Promise<Reply> {
  if (mediaType(ctx.req) === "application/json") {
    throw new HttpError(400, "remote_url_unsupported", "this server fetches nothing from outside: send the audio itself as the request body");
  }
  const model = resolveModel(ctx.speech, "stt", query.model);
  ctx.usage.model = model.id;
  const ignored = unperformed(query);
  ctx.usage.features.push(...ignored);
  // Hashed as it arrives rather than in one pass over a possibly large body on the event loop.
  const hash = createHash("sha256");
  const body = await readBody(ctx.req, ctx.config.MAX_BODY_BYTES, (chunk) => hash.update(chunk));
  const input = await decodeUpload(inspectAudio(body, declaredAudio(query)), { sampleRate: ctx.speech.stt.sampleRate, maxSeconds: ctx.config.MAX_AUDIO_SECONDS });
  ctx.usage.audioSeconds = input.durationS;
  const t0 = performance.now();
  const t = await ctx.speech.transcribe(input.samples, { language: query.language });
  ctx.metrics.realTimeFactor.observe({ feature: "stt" }, (performance.now() - t0) / 1000 / Math.max(input.durationS, 1e-3));
  return jsonReply(200, deepgramResponse({ t, model, requestId: ctx.requestId, sha256: hash.digest("hex"), channels: input.channels, warnings: warnings(ignored) }));
}

export async function speak(ctx: RequestContext, query: SpeakQuery, body: SpeakBody): Promise<void> {
  const { model, voice } = speakModel(ctx.speech, query.model);
  ctx.usage.model = model.id;
  const spec = speakEncoding(query);
  const text = checkTextLength(ctx, body.text, "text");
  ctx.usage.characters = text.length;
  ctx.usage.features.push(`encoding:${spec.encoding}`, `container:${spec.container}`);
  await streamSpeech(ctx, text, { speed: query.speed, voice }, {
    spec,
    headers: { "dg-model-name": model.id, "dg-char-count": String(text.length), "dg-request-id": ctx.requestId },
  });
}
