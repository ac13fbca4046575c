/**
 * API keys: from API_KEYS (comma-separated) or API_KEYS_FILE (one per line, a mounted Secret).
 * Keys are compared in constant time: both sides are hashed to a fixed length first, so neither the
 * key's content nor its length leaks through timing.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { HttpError } from "./errors";

const MIN_KEY_LENGTH = 16;

export class ApiKeys {
  private readonly digests: Buffer[];

  constructor(keys: string[]) {
    const bad = keys.filter((k) => k.length < MIN_KEY_LENGTH);
    if (bad.length > 0) throw new Error(`API keys must be at least ${MIN_KEY_LENGTH} characters (${bad.length} too short)`);
    this.digests = keys.map(digest);
  }

  get size(): number {
    return this.digests.length;
  }

  /** Checks every key (no early exit), so the time does not say which one matched. */
  verify(candidate: string): boolean {
    const d = digest(candidate);
    let ok = false;
    for (const known of this.digests) ok = timingSafeEqual(known, d) || ok;
    return ok;
  }
}

function digest(key: string): Buffer {
  return createHash("sha256").update(key, "utf8").digest();
}

/** Keys from the environment; a file that cannot be read is a startup error, not an open server. */
export function loadApiKeys(env: NodeJS.ProcessEnv): string[] {
  const keys: string[] = [];
  if (env.API_KEYS) keys.push(...env.API_KEYS.split(","));
  if (env.API_KEYS_FILE) {
    let text: string;
    try {
      text = readFileSync(env.API_KEYS_FILE, "utf8");
    } catch (err) {
      throw new Error(`API_KEYS_FILE ${env.API_KEYS_FILE} cannot be read: ${(err as Error).message}`);
    }
    keys.push(...text.split(/[\r\n,]+/));
  }
  return keys.map((k) => k.trim()).filter((k) => k.length > 0);
}

export function generateApiKey(): string {
  return `vsh_${randomBytes(24).toString("base64url")}`;
}

/** `Authorization: Bearer <k>` or `Token <k>` (either case). */
function keyFromHeader(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const m = /^(bearer|token)\s+(\S+)\s*$/i.exec(header);
  return m ? m[2] : undefined;
}

/**
 * Browsers cannot set headers on WebSockets, so Deepgram's SDK sends `Sec-WebSocket-Protocol: token, <key>`
 * (or `bearer, <token>`). Returns the key and the protocol to echo back.
 */
function keyFromSubprotocol(req: IncomingMessage): { key: string; protocol: string } | undefined {
  const header = req.headers["sec-websocket-protocol"];
  if (!header) return undefined;
  const parts = header.split(",").map((p) => p.trim());
  for (let i = 0; i < parts.length - 1; i++) {
    const scheme = parts[i].toLowerCase();
    if (scheme === "token" || scheme === "bearer") return { key: parts[i + 1], protocol: parts[i] };
  }
  return undefined;
}

export function authenticate(keys: ApiKeys, req: IncomingMessage, allowSubprotocol: boolean): void {
  const key = keyFromHeader(req) ?? (allowSubprotocol ? keyFromSubprotocol(req)?.key : undefined);
  if (key === undefined) {
    throw new HttpError(401, "missing_api_key", "missing API key: send Authorization: Bearer <key> or Token <key>");
  }
  if (!keys.verify(key)) throw new HttpError(401, "invalid_api_key", "invalid API key");
}
