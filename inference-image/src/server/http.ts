/** Small request/response helpers for the plain node:http server. */
import { type IncomingMessage, type ServerResponse, STATUS_CODES } from "node:http";

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

export function mediaType(req: IncomingMessage): string {
  return (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
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
