import { AudioError, AudioTooLongError, UnsupportedAudioError } from "../audio/errors";
import { EngineInputError, QueueFullError } from "../engines/types";
import { HttpError } from "../shared/http";
import type { Logger } from "../shared/log";

/**
 * Maps anything a handler threw to the error the client sees: engine refusals keep their meaning
 * (429 with a whole-second Retry-After, 400), anything else is logged by kind (never request
 * content) and answered without a stack trace.
 */
export function toHttpError(err: unknown, logger: Logger, requestId: string): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof QueueFullError) {
    return new HttpError(429, "too_many_requests", "server busy: the work queue is full; retry shortly", { "retry-after": String(Math.max(1, Math.ceil(err.retryAfterS))) });
  }
  if (err instanceof EngineInputError) return new HttpError(400, "invalid_parameter", err.message);
  if (err instanceof AudioError) return audioHttpError(err);
  logger.error("request failed", { request_id: requestId, error: (err as Error)?.name, detail: (err as Error)?.message });
  return new HttpError(500, "internal_error", "internal server error");
}

/** The audio layer's refusals: too long 413, unsupported 415, anything else wrong with the bytes 400. */
export function audioHttpError(err: AudioError): HttpError {
  if (err instanceof AudioTooLongError) return new HttpError(413, "audio_too_long", err.message);
  if (err instanceof UnsupportedAudioError) return new HttpError(415, "unsupported_audio", err.message);
  return new HttpError(400, "invalid_audio", err.message);
}

export type ErrorFamily = "openai" | "deepgram";

/** The response header that carries the request id (every answer, refusals and socket upgrades too). */
export const requestIdHeader = (family: ErrorFamily): string => (family === "deepgram" ? "dg-request-id" : "x-request-id");

const OPENAI_TYPES: Record<number, string> = {
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  429: "rate_limit_error",
};

/**
 * A refusal in the shape its route family's clients parse:
 *  - OpenAI routes and everything else: `{error: {message, type, code}}` (what the openai SDK parses);
 *  - Deepgram routes (/v1/listen, /v1/speak): `{err_code, err_msg, request_id}` (what @deepgram/sdk parses).
 */
export function errorBody(err: HttpError, family: ErrorFamily, requestId: string): Record<string, unknown> {
  if (family === "deepgram") return { err_code: err.code.toUpperCase(), err_msg: err.message, request_id: requestId };
  const type = OPENAI_TYPES[err.status] ?? (err.status >= 500 ? "server_error" : "invalid_request_error");
  return { error: { message: err.message, type, code: err.code } };
}
