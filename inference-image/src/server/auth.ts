/**
 * API keys and the teams that own them, from API_KEYS (comma-separated) and API_KEYS_FILE (a mounted
 * Secret). The file is either one key per line (each an anonymous key: every scope, no limits) or a
 * JSON teams document:
 *
 *   {"teams": [{"name": "contact-center",
 *               "keys": [{"id": "cc-2026-11", "sha256": "<64 hex digits>"}],   // or "key": "<the key>" for local use
 *               "scopes": ["stt", "stt-live", "tts"],                           // default: all three
 *               "limits": {"concurrent": 8, "requestsPerMinute": 600}}]}        // optional
 *
 * Keys are never kept, only their SHA-256 digests, so a document of digests can be shared with less risk.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { z } from "zod";
import { HttpError } from "../shared/http";
import { FEATURES } from "../shared/license-protocol";
import { Team, type TeamSpec } from "./teams";

const MIN_KEY_LENGTH = 16;
/** The team of keys given without a document (API_KEYS, or a file of lines); a document may not use the name. */
export const ANONYMOUS_TEAM = "anonymous";
/** Bounds the rate window's memory (8 bytes a request) per team. */
const MAX_REQUESTS_PER_MINUTE = 100_000;

const keySchema = z
  .object({
    id: z.string().min(1, "expected a key id").max(128),
    sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, "expected the key's SHA-256 digest: 64 hex digits (sha256sum)").optional(),
    key: z.string().min(MIN_KEY_LENGTH, `expected a key of at least ${MIN_KEY_LENGTH} characters`).optional(),
  })
  .strict()
  .refine((k) => (k.sha256 === undefined) !== (k.key === undefined), { message: 'expected exactly one of "sha256" or "key"' });

const teamSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, "expected lowercase letters, digits and dashes (e.g. contact-center)")
      .max(63)
      .refine((n) => n !== ANONYMOUS_TEAM, { message: `"${ANONYMOUS_TEAM}" is reserved for keys given one per line` }),
    keys: z.array(keySchema).min(1, "expected at least one key"),
    /** An empty list is allowed: such keys authenticate (GET /v1/models) but may use no speech route. */
    scopes: z.array(z.enum(FEATURES)).default([...FEATURES]),
    limits: z
      .object({
        concurrent: z.number().int().min(1).max(100_000).optional(),
        requestsPerMinute: z.number().int().min(1).max(MAX_REQUESTS_PER_MINUTE).optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

const documentSchema = z
  .object({ teams: z.array(teamSchema) })
  .strict()
  .superRefine((doc, ctx) => {
    const names = new Set<string>();
    const ids = new Set<string>();
    doc.teams.forEach((t, i) => {
      if (names.has(t.name)) ctx.addIssue({ code: "custom", path: ["teams", i, "name"], message: `team "${t.name}" appears twice` });
      names.add(t.name);
      t.keys.forEach((k, j) => {
        if (ids.has(k.id)) ctx.addIssue({ code: "custom", path: ["teams", i, "keys", j, "id"], message: `key id "${k.id}" appears twice` });
        ids.add(k.id);
      });
    });
  });

/** One team and its key digests, as the document (or the list of lines) gives it. */
export interface TeamEntry extends TeamSpec {
  keys: { id: string; digest: string }[];
}

const digestHex = (key: string): string => createHash("sha256").update(key, "utf8").digest("hex");

function fieldPath(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

/**
 * Parse one keys file. Errors name the field and what is wrong, and never quote the file: a JSON
 * syntax error's own message shows a piece of the text, which may be a key.
 */
export function parseKeysFile(text: string, source: string): TeamEntry[] {
  if (!text.trimStart().startsWith("{")) {
    const lines = text.split(/\r?\n/);
    const keys: TeamEntry["keys"] = [];
    lines.forEach((raw, i) => {
      for (const part of raw.split(",")) {
        const key = part.trim();
        if (key === "") continue;
        if (key.length < MIN_KEY_LENGTH) throw new Error(`${source} line ${i + 1}: expected a key of at least ${MIN_KEY_LENGTH} characters`);
        keys.push({ id: `line-${i + 1}`, digest: digestHex(key) });
      }
    });
    return keys.length > 0 ? [anonymousTeam(keys)] : [];
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const position = /position (\d+)/.exec((err as Error).message)?.[1];
    throw new Error(`${source}: not valid JSON${position ? ` (at character ${position})` : ""}`);
  }
  const parsed = documentSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${fieldPath(i.path) || "(document)"}: ${i.message}`);
    throw new Error(`${source}: ${issues.join("; ")}`);
  }
  return parsed.data.teams.map((t) => ({
    name: t.name,
    scopes: t.scopes,
    limits: t.limits,
    keys: t.keys.map((k) => ({ id: k.id, digest: k.sha256 ? k.sha256.toLowerCase() : digestHex(k.key!) })),
  }));
}

function anonymousTeam(keys: TeamEntry["keys"]): TeamEntry {
  return { name: ANONYMOUS_TEAM, scopes: [...FEATURES], limits: {}, keys };
}

/** Teams from the environment; a file that cannot be read or parsed is an error (a startup error, or a kept document on reload). */
export function loadTeams(env: NodeJS.ProcessEnv): TeamEntry[] {
  const teams: TeamEntry[] = [];
  if (env.API_KEYS) teams.push(...parseKeysFile(env.API_KEYS, "API_KEYS"));
  if (env.API_KEYS_FILE) {
    let text: string;
    try {
      text = readFileSync(env.API_KEYS_FILE, "utf8");
    } catch (err) {
      throw new Error(`API_KEYS_FILE ${env.API_KEYS_FILE} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    for (const t of parseKeysFile(text, `API_KEYS_FILE ${env.API_KEYS_FILE}`)) {
      const same = teams.find((u) => u.name === t.name);
      if (same) same.keys.push(...t.keys);
      else teams.push(t);
    }
  }
  return teams;
}

/** Who a presented key belongs to. `digest` identifies the key inside this process only (revocation); it is never logged or exported. */
export interface Caller {
  readonly team: Team;
  /** The document's key id (not secret): what logs may name. */
  readonly keyId: string;
  readonly digest: string;
}

/**
 * The keys in force, replaceable at run time. A lookup hashes the presented key once and looks the
 * digest up in a Map: O(1) with any number of keys, where comparing against each key in turn would
 * cost 1,000 comparisons a request.
 *
 * Why a Map lookup keyed by the digest leaks nothing useful: the only input an attacker controls is
 * their own guess, and what the lookup's timing depends on is SHA-256(guess), which they can compute
 * themselves; at most (a string compare that stops early inside one hash bucket) it could say how many
 * leading hex digits SHA-256(guess) shares with a stored digest. Steering a guess to share even a few
 * more digits takes 16x more hashing per digit, so the stored digests stay out of reach, and a digest
 * would not give the key back anyway (keys are long and random; SHA-256 has no known preimage attack).
 * The hit is still confirmed with timingSafeEqual, so no byte compare of secret material runs early-exit.
 */
export class ApiKeys {
  private byDigest = new Map<string, { caller: Caller; raw: Buffer }>();
  private readonly teams = new Map<string, Team>();
  private readonly revokeListeners: ((revoked: ReadonlySet<string>) => void)[] = [];
  /** Reloads of the keys file that failed (the last good document stayed in force). */
  reloadFailures = 0;

  constructor(teams: TeamEntry[]) {
    this.replace(teams);
  }

  get size(): number {
    return this.byDigest.size;
  }

  teamList(): Team[] {
    return [...this.teams.values()];
  }

  /** Put a new document in force. Teams keep their counters; keys that are gone are reported to `onRevoke` listeners. */
  replace(entries: TeamEntry[]): void {
    // Check the whole document before touching any team, so a refused one changes nothing.
    const owner = new Map<string, string>();
    for (const entry of entries) {
      for (const k of entry.keys) {
        const other = owner.get(k.digest);
        if (other !== undefined) throw new Error(`key "${k.id}" of team "${entry.name}" is the same key as "${other}": a key belongs to one team, once`);
        owner.set(k.digest, k.id);
      }
    }
    const next = new Map<string, { caller: Caller; raw: Buffer }>();
    const seen = new Set<string>();
    for (const entry of entries) {
      let team = this.teams.get(entry.name);
      if (team) team.update(entry);
      else {
        team = new Team(entry.name, entry);
        this.teams.set(entry.name, team);
      }
      seen.add(entry.name);
      for (const k of entry.keys) {
        next.set(k.digest, { caller: { team, keyId: k.id, digest: k.digest }, raw: Buffer.from(k.digest, "hex") });
      }
    }
    for (const name of [...this.teams.keys()]) if (!seen.has(name)) this.teams.delete(name);
    const revoked = new Set<string>();
    for (const [digest, old] of this.byDigest) {
      // A key that moved to another team is revoked for its old team's sessions too.
      if (next.get(digest)?.caller.team !== old.caller.team) revoked.add(digest);
    }
    this.byDigest = next;
    if (revoked.size > 0) for (const listener of this.revokeListeners) listener(revoked);
  }

  /** Called with the digests of keys a reload removed, so open live sessions can be closed. */
  onRevoke(listener: (revoked: ReadonlySet<string>) => void): void {
    this.revokeListeners.push(listener);
  }

  verify(candidate: string): Caller | undefined {
    const d = createHash("sha256").update(candidate, "utf8").digest();
    const hit = this.byDigest.get(d.toString("hex"));
    return hit && timingSafeEqual(hit.raw, d) ? hit.caller : undefined;
  }
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

export function authenticate(keys: ApiKeys, req: IncomingMessage, allowSubprotocol: boolean): Caller {
  const key = keyFromHeader(req) ?? (allowSubprotocol ? keyFromSubprotocol(req)?.key : undefined);
  if (key === undefined) {
    throw new HttpError(401, "missing_api_key", "missing API key: send Authorization: Bearer <key> or Token <key>");
  }
  const caller = keys.verify(key);
  if (!caller) throw new HttpError(401, "invalid_api_key", "invalid API key");
  return caller;
}
