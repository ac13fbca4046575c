/** Small request/response helpers for the plain node:http server. */
import { type IncomingMessage, type ServerResponse, STATUS_CODES } from "node:http";
import { HttpError } from "./errors";

/**
 * The request-target as a URL, or undefined when it is not one (`//`, `http://[`): `new URL` throws on
 * those, and a throw outside a handler's try/catch would stop the process.
 */
export function requestTarget(req: IncomingMessage): URL | undefined {
  try {
    return new URL(req.url ?? "/", "http://localhost");
  } catch {
    return undefined;
  }
}

/** A complete HTTP/1.1 error answer as raw bytes, for sockets that have no ServerResponse (client errors, upgrades). */
export function rawJsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): string {
  const text = JSON.stringify(body);
  const head = Object.entries({ "content-type": "application/json", "content-length": String(Buffer.byteLength(text)), connection: "close", ...headers }).map(([k, v]) => `${k}: ${v}`);
  return [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}`, ...head, "", text].join("\r\n");
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

export function sendText(res: ServerResponse, status: number, body: string, contentType: string): void {
  res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

export function mediaType(req: IncomingMessage): string {
  return (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
}

/** Deepgram-style boolean query flags: "true"/"false" (absent = default). */
export function flag(q: URLSearchParams, name: string, def = false): boolean {
  const v = q.get(name);
  if (v === null) return def;
  if (v === "true") return true;
  if (v === "false") return false;
  throw new HttpError(400, "invalid_parameter", `${name} must be true or false`);
}

/** Resolve when the response is fully written, or the client went away. */
export function finished(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    if (res.writableFinished || res.destroyed) return resolve();
    res.once("finish", resolve);
    res.once("close", resolve);
  });
}

/** Write with backpressure: wait for drain when the socket buffer is full; false if the client left. */
export async function write(res: ServerResponse, chunk: Buffer): Promise<boolean> {
  if (res.destroyed) return false;
  if (res.write(chunk)) return true;
  await new Promise<void>((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
  return !res.destroyed;
}
