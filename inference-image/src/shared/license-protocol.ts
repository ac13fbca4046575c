/**
 * The contract between the inference server and the license proxy (in-cluster, plain HTTP on the
 * proxy's port, reachable only from inference pods).
 *
 *   POST /v1/authorize  {feature, model}       -> 200 AuthorizeAllowed | 403 AuthorizeDenied
 *   POST /v1/usage      {records: UsageRecord[]} -> 202 {accepted: n}, only after the records are durably spooled
 *   GET  /health, GET /metrics
 *
 * Usage records carry metadata only: never audio, text, transcripts or caller identity.
 */
import { z } from "zod";

export const FEATURES = ["stt", "stt-live", "tts"] as const;
export type Feature = (typeof FEATURES)[number];

export const authorizeRequestSchema = z.object({ feature: z.enum(FEATURES), model: z.string().min(1).max(128) }).strict();
export type AuthorizeRequest = z.infer<typeof authorizeRequestSchema>;

export interface AuthorizeAllowed {
  allowed: true;
  license_id: string;
  /** ISO time after which serving stops unless the lease is renewed (lease exp + grace). */
  valid_until: string;
  grace_period_active: boolean;
}

export type DenyCode = "LICENSE_EXPIRED" | "LICENSE_INVALID" | "NOT_ENTITLED" | "NO_LICENSE";
export interface AuthorizeDenied {
  allowed: false;
  code: DenyCode;
  message: string;
}
export type AuthorizeResponse = AuthorizeAllowed | AuthorizeDenied;

export const usageRecordSchema = z
  .object({
    /** Unique per record (UUID v4): upstream deduplicates retried uploads by it. */
    id: z.string().uuid(),
    /** ISO 8601 time the request finished. */
    timestamp: z.string().datetime(),
    model: z.string().min(1).max(128),
    features: z.array(z.string().min(1).max(64)).max(32),
    status_code: z.number().int().min(100).max(599),
    audio_seconds: z.number().min(0),
    characters: z.number().int().min(0),
  })
  .strict();
export type UsageRecord = z.infer<typeof usageRecordSchema>;

export const usageBatchSchema = z.object({ records: z.array(usageRecordSchema).min(1).max(1000) }).strict();
export type UsageBatch = z.infer<typeof usageBatchSchema>;
