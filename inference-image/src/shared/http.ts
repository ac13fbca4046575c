/**
 * HTTP pieces both servers (the inference server and the license proxy) use: their keep-alive, the error
 * type every refusal throws, and bounded body reading that never buffers past its limit.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * How long an idle keep-alive connection is kept. A server must close idle connections later than its
 * clients drop them, or a client reuses one just as it closes and its POST fails with "socket hang up".
 * Node's 5 s default is exactly httpx's pool expiry (the OpenAI and Deepgram Python SDKs), and a client
 * whose event loop is busy for 5 s misses the close. 65 s outlasts them and an ALB's 60 s idle timeout;
 * Node advertises it in Keep-Alive, which undici and node:http's agent honour with a 1 s margin.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/**
 * One error type for every refusal: an HTTP status, a machine-readable code, a message for people
 * and extra headers (Retry-After). Each server renders it in the shape its clients parse.
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

/**
 * Reject with a 400 when the client goes away (or the connection breaks) before the body is complete,
 * so a truncated upload frees its buffers and its in-flight count at once, not at the request timeout.
 */
export function onIncomplete(req: IncomingMessage, fail: (err: HttpError) => void): void {
  const truncated = () => fail(new HttpError(400, "truncated_body", "the request body ended before it was complete"));
  req.on("error", truncated);
  req.on("close", () => {
    if (!req.complete) truncated();
  });
}

/** Read the whole body, refusing (413) as soon as it passes `maxBytes` instead of buffering it all; `onChunk` sees each piece as it arrives. */
export function readBody(req: IncomingMessage, maxBytes: number, onChunk?: (chunk: Buffer) => void): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) {
    return Promise.reject(new HttpError(413, "body_too_large", `request body is ${declared} bytes; the limit is ${maxBytes}`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.removeAllListeners("data");
        req.resume();
        reject(new HttpError(413, "body_too_large", `request body exceeds the limit of ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
      onChunk?.(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks, size)));
    onIncomplete(req, (err) => {
      chunks.length = 0;
      reject(err);
    });
  });
}

export async function readJson(req: IncomingMessage, maxBytes: number): Promise<Record<string, unknown>> {
  const body = await readBody(req, maxBytes);
  if (body.length === 0) throw new HttpError(400, "invalid_json", "the request body is empty: send a JSON object");
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
  } catch {
    throw new HttpError(400, "invalid_json", "the request body is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HttpError(400, "invalid_json", "the request body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

