/** Server settings from the environment, validated once at startup (a bad value stops the process with its name). */
import { z } from "zod";
import { DEFAULT_INTERIM_MS } from "../engines/types";

const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);

const schema = z.object({
  PORT: int(8080, 0, 65535),
  HOST: z.string().default("0.0.0.0"),
  LICENSE_PROXY_URL: z.string().url().optional(),
  /**
   * Where usage records are written ahead (usage-wal.jsonl) until the proxy acknowledges them, so a
   * killed server loses none; in Kubernetes an emptyDir. Unset: records live in memory only.
   */
  USAGE_WAL_DIR: z.string().min(1).optional(),
  /** Largest request body (bytes); larger bodies get 413. 50 MiB holds ~26 min of 16 kHz 16-bit mono. */
  MAX_BODY_BYTES: int(50 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
  /**
   * Room for the bodies of all requests being received at once (each reserves its Content-Length, a
   * chunked one MAX_BODY_BYTES); past it speech requests get 429. At least MAX_BODY_BYTES.
   */
  MAX_BUFFERED_BODY_BYTES: int(256 * 1024 * 1024, 1024, 16 * 1024 * 1024 * 1024),
  /** Longest audio accepted in one request or live session (seconds). */
  MAX_AUDIO_SECONDS: int(600, 1, 24 * 3600),
  /** Longest text for speech (characters); OpenAI's own limit is 4096. */
  MAX_TEXT_CHARS: int(4096, 1, 100_000),
  /** Wall-clock limit for one HTTP request, body upload included. */
  REQUEST_TIMEOUT_MS: int(300_000, 1000, 3_600_000),
  /** Live sessions close after this long without audio or KeepAlive (Deepgram closes after ~10 s). */
  LIVE_IDLE_TIMEOUT_MS: int(10_000, 1000, 600_000),
  /** Live transcription sends an interim result for every this many ms of speech (a voicebot wants ~200-300). */
  LIVE_INTERIM_MS: int(DEFAULT_INTERIM_MS, 50, 5000),
  /** How long SIGTERM waits for in-flight work before closing what is left. */
  SHUTDOWN_GRACE_MS: int(25_000, 0, 600_000),
});

export type ServerConfig = z.infer<typeof schema>;

export function serverConfigFromEnv(env: NodeJS.ProcessEnv): ServerConfig {
  const parsed = schema
    .refine((c) => c.MAX_BUFFERED_BODY_BYTES >= c.MAX_BODY_BYTES, { message: "must be at least MAX_BODY_BYTES", path: ["MAX_BUFFERED_BODY_BYTES"] })
    .safeParse(Object.fromEntries(Object.entries(env).filter(([k, v]) => k in schema.shape && v !== "")));
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new Error(`invalid server configuration: ${issues}`);
  }
  return parsed.data;
}

/**
 * node:http refuses (at start) a headersTimeout above requestTimeout: headers get at most 60 s, and never
 * longer than the whole request may take, so any valid REQUEST_TIMEOUT_MS starts.
 */
export const headersTimeoutMs = (config: ServerConfig): number => Math.min(60_000, config.REQUEST_TIMEOUT_MS);

export const defaultServerConfig = (): ServerConfig => serverConfigFromEnv({});
