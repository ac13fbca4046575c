/**
 * Sends pending usage upstream, oldest first, at most batchSize records a request, one request at a
 * time. Only ids the upstream names as accepted are settled; the rest stay pending and are retried
 * with exponential backoff and jitter. A retried record keeps its id, so the upstream deduplicates it.
 */
import { z } from "zod";
import type { Logger } from "../shared/log";
import { backoffDelayMs, Loop } from "./backoff";
import type { ProxyConfig } from "./config";
import { describeFetchError } from "./license";
import type { Spool } from "./spool";

const usageResponseSchema = z.object({ accepted: z.number().int().min(0), accepted_ids: z.array(z.string()).optional() });

export interface UploadEvents {
  onUpload(result: { ok: boolean; sent: number; settled: number }): void;
}

export class Uploader {
  private failures = 0;
  private readonly loop: Loop;

  constructor(
    private readonly config: ProxyConfig,
    private readonly spool: Spool,
    private readonly log: Logger,
    private readonly events: UploadEvents,
  ) {
    this.loop = new Loop(() => this.round());
  }

  start(): void {
    this.loop.start(this.spool.depth > 0 ? 0 : this.config.uploadIntervalMs);
  }

  /** A full batch is waiting: no need to wait for the interval. Backoff after failures still applies. */
  nudge(): void {
    if (this.failures === 0 && this.spool.depth >= this.config.batchSize) this.loop.wake();
  }

  stop(): void {
    this.loop.stop();
  }

  private async round(): Promise<number> {
    if (this.spool.depth === 0) return this.config.uploadIntervalMs;
    const batch = this.spool.oldest(this.config.batchSize);
    let settled = 0;
    try {
      const acceptedIds = await this.post(batch.map((r) => r.id), JSON.stringify({ records: batch }));
      settled = await this.spool.markDone(acceptedIds, "accepted");
      if (settled < batch.length) throw new Error(`the license server accepted ${settled} of ${batch.length} records`);
      this.failures = 0;
      this.events.onUpload({ ok: true, sent: batch.length, settled });
      return this.spool.depth > 0 ? 0 : this.config.uploadIntervalMs;
    } catch (e) {
      this.events.onUpload({ ok: false, sent: batch.length, settled });
      // Partial acceptance is progress: back off a little, but do not escalate as for an outage.
      if (settled > 0) this.failures = 0;
      const delay = backoffDelayMs(this.failures++, 1000, this.config.uploadRetryMaxMs);
      this.log.warn("usage upload incomplete; will retry", { error: (e as Error).message, settled, pending: this.spool.depth, retry_in_ms: Math.round(delay) });
      return delay;
    }
  }

  /** POST a batch; returns the ids the upstream says it now holds. */
  private async post(ids: string[], body: string): Promise<string[]> {
    const res = await fetch(`${this.config.licenseServerUrl}/v1/usage`, {
      method: "POST",
      headers: { authorization: `Bearer ${this.config.licenseKey}`, "content-type": "application/json" },
      body,
      signal: AbortSignal.timeout(this.config.upstreamTimeoutMs),
    }).catch((e: Error) => {
      throw new Error(`license server unreachable: ${describeFetchError(e)}`);
    });
    const text = await res.text().catch((e: Error) => {
      throw new Error(`license server answer cut off: ${describeFetchError(e)}`);
    });
    if (!res.ok) throw new Error(`license server answered ${res.status}: ${text.slice(0, 200)}`);
    let parsed: z.infer<typeof usageResponseSchema>;
    try {
      parsed = usageResponseSchema.parse(JSON.parse(text));
    } catch {
      throw new Error('license server answer is not {"accepted": n, "accepted_ids": [...]}');
    }
    if (parsed.accepted_ids) {
      const sent = new Set(ids);
      return parsed.accepted_ids.filter((id) => sent.has(id));
    }
    // Without ids only "all of them" is unambiguous; anything less is retried whole (the upstream dedupes).
    return parsed.accepted === ids.length ? ids : [];
  }
}
