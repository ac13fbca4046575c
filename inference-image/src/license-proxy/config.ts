/**
 * License proxy configuration, from the environment (secrets and keys may also come from mounted files).
 * One zod schema validates it; a bad value stops start-up with a message that names the variable.
 * The license key never appears in a message: errors about it name the variable only.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { loadVendorKey, type VendorKey } from "./lease";

const seconds = (name: string, def: number, opts: { min?: number; max?: number } = {}) =>
  z.coerce
    .number({ invalid_type_error: `${name} must be a number of seconds` })
    .finite()
    .min(opts.min ?? 0, `${name} must be at least ${opts.min ?? 0}`)
    .max(opts.max ?? 10 * 365 * 86400, `${name} must be at most ${opts.max ?? 10 * 365 * 86400}`)
    .default(def);

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v));

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0, "PORT must be 0-65535").max(65535, "PORT must be 0-65535").default(3369),
  HOST: z.string().min(1).default("0.0.0.0"),
  LICENSE_SERVER_URL: optionalString.pipe(
    z
      .string()
      .url("LICENSE_SERVER_URL must be an absolute http(s) URL")
      .refine((u) => /^https?:\/\//.test(u), "LICENSE_SERVER_URL must use http or https")
      .optional(),
  ),
  LICENSE_KEY: optionalString,
  LICENSE_KEY_FILE: optionalString,
  LICENSE_PUBLIC_KEY: optionalString,
  LICENSE_PUBLIC_KEY_FILE: optionalString,
  LICENSE_FILE: optionalString,
  LICENSE_GRACE_SECONDS: seconds("LICENSE_GRACE_SECONDS", 86400),
  STATE_DIR: z.string().min(1).default("/var/lib/license-proxy"),
  LICENSE_RENEW_INTERVAL_SECONDS: seconds("LICENSE_RENEW_INTERVAL_SECONDS", 3600, { min: 0.05 }),
  LICENSE_RETRY_MAX_SECONDS: seconds("LICENSE_RETRY_MAX_SECONDS", 300, { min: 0.05 }),
  USAGE_UPLOAD_INTERVAL_SECONDS: seconds("USAGE_UPLOAD_INTERVAL_SECONDS", 300, { min: 0.05 }),
  USAGE_RETRY_MAX_SECONDS: seconds("USAGE_RETRY_MAX_SECONDS", 300, { min: 0.05 }),
  USAGE_BATCH_SIZE: z.coerce
    .number()
    .int()
    .min(1, "USAGE_BATCH_SIZE must be 1-1000")
    .max(1000, "USAGE_BATCH_SIZE must be 1-1000 (the upstream takes at most 1000 records a batch)")
    .default(1000),
  UPSTREAM_TIMEOUT_SECONDS: seconds("UPSTREAM_TIMEOUT_SECONDS", 10, { min: 0.05, max: 600 }),
});

export interface ProxyConfig {
  port: number;
  host: string;
  mode: "online" | "offline";
  /** Online mode only. */
  licenseServerUrl?: string;
  /** Online mode only; never log it. */
  licenseKey?: string;
  /** Offline mode only: path of the license file (re-read when it changes, so a new license needs no restart). */
  licenseFile?: string;
  vendorKey: VendorKey;
  graceSeconds: number;
  stateDir: string;
  renewIntervalMs: number;
  renewRetryMaxMs: number;
  uploadIntervalMs: number;
  uploadRetryMaxMs: number;
  batchSize: number;
  upstreamTimeoutMs: number;
}

export class ConfigError extends Error {}

function readSecretFile(variable: string, path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (e) {
    throw new ConfigError(`${variable}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** Read the vendor public key from LICENSE_PUBLIC_KEY (PEM or JWK text) or LICENSE_PUBLIC_KEY_FILE. */
export function vendorKeyFromEnv(env: NodeJS.ProcessEnv): VendorKey {
  const inline = env.LICENSE_PUBLIC_KEY?.trim() || undefined;
  const file = env.LICENSE_PUBLIC_KEY_FILE?.trim() || undefined;
  if (inline && file) throw new ConfigError("set LICENSE_PUBLIC_KEY or LICENSE_PUBLIC_KEY_FILE, not both");
  if (!inline && !file) throw new ConfigError("LICENSE_PUBLIC_KEY or LICENSE_PUBLIC_KEY_FILE is required (the vendor's Ed25519 public key, PEM or JWK)");
  const text = inline ?? readSecretFile("LICENSE_PUBLIC_KEY_FILE", file as string);
  try {
    return loadVendorKey(text);
  } catch (e) {
    throw new ConfigError(`${inline ? "LICENSE_PUBLIC_KEY" : "LICENSE_PUBLIC_KEY_FILE"}: ${(e as Error).message}`);
  }
}

export function loadConfig(env: NodeJS.ProcessEnv): ProxyConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`invalid license proxy configuration:\n  ${lines.join("\n  ")}`);
  }
  const e = parsed.data;
  if (e.LICENSE_FILE && e.LICENSE_SERVER_URL) {
    throw new ConfigError("set LICENSE_SERVER_URL (online mode) or LICENSE_FILE (offline mode), not both");
  }
  if (!e.LICENSE_FILE && !e.LICENSE_SERVER_URL) {
    throw new ConfigError("set LICENSE_SERVER_URL (online mode) or LICENSE_FILE (offline mode)");
  }
  const mode = e.LICENSE_FILE ? "offline" : "online";
  let licenseKey: string | undefined;
  if (mode === "online") {
    if (e.LICENSE_KEY && e.LICENSE_KEY_FILE) throw new ConfigError("set LICENSE_KEY or LICENSE_KEY_FILE, not both");
    licenseKey = e.LICENSE_KEY ?? (e.LICENSE_KEY_FILE ? readSecretFile("LICENSE_KEY_FILE", e.LICENSE_KEY_FILE) : undefined);
    if (!licenseKey) throw new ConfigError("online mode needs LICENSE_KEY or LICENSE_KEY_FILE");
    if (/[\r\n]/.test(licenseKey)) throw new ConfigError("the license key must be a single line (check LICENSE_KEY / LICENSE_KEY_FILE)");
  }
  return {
    port: e.PORT,
    host: e.HOST,
    mode,
    licenseServerUrl: e.LICENSE_SERVER_URL?.replace(/\/+$/, ""),
    licenseKey,
    licenseFile: e.LICENSE_FILE,
    vendorKey: vendorKeyFromEnv(env),
    graceSeconds: e.LICENSE_GRACE_SECONDS,
    stateDir: e.STATE_DIR,
    renewIntervalMs: e.LICENSE_RENEW_INTERVAL_SECONDS * 1000,
    renewRetryMaxMs: e.LICENSE_RETRY_MAX_SECONDS * 1000,
    uploadIntervalMs: e.USAGE_UPLOAD_INTERVAL_SECONDS * 1000,
    uploadRetryMaxMs: e.USAGE_RETRY_MAX_SECONDS * 1000,
    batchSize: e.USAGE_BATCH_SIZE,
    upstreamTimeoutMs: e.UPSTREAM_TIMEOUT_SECONDS * 1000,
  };
}
