/**
 * One error type for every refusal, rendered per route family:
 *  - OpenAI routes and everything else: `{error: {message, type, code}}` (what the openai SDK parses);
 *  - Deepgram routes (/v1/listen, /v1/speak): `{err_code, err_msg, request_id}` (what @deepgram/sdk parses).
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

export type ErrorFamily = "openai" | "deepgram";

const OPENAI_TYPES: Record<number, string> = {
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  429: "rate_limit_error",
};

export function errorBody(err: HttpError, family: ErrorFamily, requestId: string): Record<string, unknown> {
  if (family === "deepgram") return { err_code: err.code.toUpperCase(), err_msg: err.message, request_id: requestId };
  const type = OPENAI_TYPES[err.status] ?? (err.status >= 500 ? "server_error" : "invalid_request_error");
  return { error: { message: err.message, type, code: err.code } };
}
