/**
 * The server side of the license hook (protocol: ../shared/license-protocol.ts).
 *
 * Authorization: one decision per feature, refreshed in the background every `refreshMs`, so no request
 * waits on the proxy. If the proxy stops answering, the last "allowed" keeps holding until its
 * `valid_until` (the proxy already folded its grace period into that time), then serving stops.
 *
 * Usage: one metadata record per request, checked against the proxy's own schema (a record it would
 * refuse is dropped and counted here, so it can never block the others), appended to the write-ahead
 * file (usage-wal.ts) when one is configured, buffered in memory (bounded: oldest dropped and counted
 * when full) and sent in batches until the proxy acknowledges them (202 after it spooled them durably).
 */
import { randomUUID } from "node:crypto";
import { HttpError } from "../shared/http";
import type { AuthorizeResponse, DenyCode, Feature, UsageRecord } from "../shared/license-protocol";
import { FEATURES, usageRecordSchema } from "../shared/license-protocol";
import type { Logger } from "../shared/log";
import { UsageWal } from "./usage-wal";

export interface LicenseStatus {
  mode: "local" | "proxy";
  allowed: boolean;
  license_id?: string;
  valid_until?: string;
  grace_period_active?: boolean;
  code?: DenyCode | "LICENSE_PENDING";
  message?: string;
}

export interface LicenseGate {
  /** Throws a 403 (denied) or 503 (not yet known) HttpError when `feature` may not be served now. */
  check(feature: Feature): void;
  /** `id` defaults to a fresh UUID; the server passes the request id, so a client can find its request's record. */
  record(usage: UsageInput): void;
  status(): LicenseStatus;
  /** Records waiting for acknowledgement, dropped because the buffer was full, and dropped as invalid (the proxy would refuse them). */
  usageBacklog(): UsageBacklog;
  /** Deliver what is buffered, retrying until `deadlineMs` has passed. */
  close(deadlineMs?: number): Promise<void>;
}

export type UsageInput = Omit<UsageRecord, "id" | "timestamp"> & { id?: string };

export interface UsageBacklog {
  pending: number;
  dropped: number;
  invalid: number;
}

/** No proxy configured: everything is allowed and nothing is reported ("local mode"). */
export class LocalLicense implements LicenseGate {
  check(): void {}
  record(): void {}
  status(): LicenseStatus {
    return { mode: "local", allowed: true, message: "local mode: no LICENSE_PROXY_URL, usage is not reported" };
  }
  usageBacklog(): UsageBacklog {
    return { pending: 0, dropped: 0, invalid: 0 };
  }
  async close(): Promise<void> {}
}

export interface ProxyLicenseOptions {
  url: string;
  /** The deployment's model per feature, sent in authorize requests. */
  models: Record<Feature, string>;
  logger: Logger;
  refreshMs?: number;
  requestTimeoutMs?: number;
  flushMs?: number;
  maxBufferedRecords?: number;
  batchSize?: number;
  /** Directory of the usage write-ahead file; without one, records live only in memory until acknowledged. */
  walDir?: string;
}

interface Decision {
  response: AuthorizeResponse;
  receivedAt: number;
}

export class ProxyLicense implements LicenseGate {
  private readonly decisions = new Map<Feature, Decision>();
  private readonly buffer: UsageRecord[] = [];
  private dropped = 0;
  private invalid = 0;
  private walFailures = 0;
  private lastKickAt = 0;
  private readonly wal: UsageWal | undefined;
  private inFlight: Promise<void> | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private backoffMs = 0;
  private nextFlushAt = 0;
  private unreachableLogged = false;
  private readonly base: string;
  private readonly refreshMs: number;
  private readonly timeoutMs: number;
  private readonly flushMs: number;
  private readonly maxBuffered: number;
  private readonly batchSize: number;

  constructor(private readonly opts: ProxyLicenseOptions) {
    this.base = opts.url.replace(/\/+$/, "");
    this.refreshMs = opts.refreshMs ?? 2500;
    this.timeoutMs = opts.requestTimeoutMs ?? 2000;
    this.flushMs = opts.flushMs ?? 1000;
    // ~250 bytes a record: 100,000 hold a long proxy outage in ~25 MB.
    this.maxBuffered = opts.maxBufferedRecords ?? 100_000;
    this.batchSize = Math.min(opts.batchSize ?? 500, 1000);
    if (opts.walDir) {
      const { wal, replay } = UsageWal.open(opts.walDir, opts.logger);
      this.wal = wal;
      // A loop, not push(...): a spread of 100,000 arguments can overflow the stack.
      for (const r of replay.slice(-this.maxBuffered)) this.buffer.push(r);
    }
  }

  /** First check now (awaitable, so startup can wait for it), then in the background. */
  async start(): Promise<void> {
    this.refreshTimer = setInterval(() => void this.refresh(), this.refreshMs).unref();
    this.flushTimer = setInterval(() => void this.flush(), this.flushMs).unref();
    await this.refresh();
  }

  async refresh(): Promise<void> {
    await Promise.all(FEATURES.map((f) => this.authorize(f)));
  }

  private async authorize(feature: Feature): Promise<void> {
    try {
      const res = await fetch(`${this.base}/v1/authorize`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ feature, model: this.opts.models[feature] }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (res.status !== 200 && res.status !== 403) throw new Error(`license proxy answered ${res.status}`);
      const body = (await res.json()) as AuthorizeResponse;
      if (typeof body?.allowed !== "boolean") throw new Error("license proxy sent a malformed authorize answer");
      const previous = this.decisions.get(feature)?.response;
      if (previous?.allowed !== body.allowed) {
        this.opts.logger[body.allowed ? "info" : "warn"]("license decision changed", {
          feature,
          allowed: body.allowed,
          code: body.allowed ? undefined : body.code,
        });
      }
      this.decisions.set(feature, { response: body, receivedAt: Date.now() });
      this.unreachableLogged = false;
    } catch (err) {
      if (!this.unreachableLogged) {
        this.opts.logger.warn("license proxy unreachable; holding the last decision until it expires", {
          error: (err as Error).message,
        });
        this.unreachableLogged = true;
      }
    }
  }

  private current(feature: Feature): LicenseStatus {
    const decision = this.decisions.get(feature)?.response;
    if (!decision) {
      return { mode: "proxy", allowed: false, code: "LICENSE_PENDING", message: "the license proxy has not confirmed the license yet" };
    }
    if (!decision.allowed) return { mode: "proxy", allowed: false, code: decision.code, message: decision.message };
    if (Date.parse(decision.valid_until) <= Date.now()) {
      return { mode: "proxy", allowed: false, code: "LICENSE_EXPIRED", message: `the license expired at ${decision.valid_until}` };
    }
    return {
      mode: "proxy",
      allowed: true,
      license_id: decision.license_id,
      valid_until: decision.valid_until,
      grace_period_active: decision.grace_period_active,
    };
  }

  check(feature: Feature): void {
    const s = this.current(feature);
    if (s.allowed) return;
    // Not known yet, or the proxy has no lease yet (it is fetching its first one): retryable, and asked again now.
    if (s.code === "LICENSE_PENDING" || s.code === "NO_LICENSE") {
      this.refreshSoon();
      throw new HttpError(503, s.code === "NO_LICENSE" ? "NO_LICENSE" : "license_pending", s.message ?? "license pending", { "retry-after": "1" });
    }
    throw new HttpError(403, s.code ?? "license_denied", s.message ?? "serving is not licensed");
  }

  private refreshSoon(): void {
    if (Date.now() - this.lastKickAt < 250) return;
    this.lastKickAt = Date.now();
    void this.refresh();
  }

  /** Serving is allowed when any feature is: a license without TTS still serves STT. */
  status(): LicenseStatus {
    const all = FEATURES.map((f) => this.current(f));
    return all.find((s) => s.allowed) ?? all[0];
  }

  record(usage: UsageInput): void {
    // Features are a set: repeated fields (31 timestamp_granularities[]) must not grow the record past the contract.
    const candidate = { ...usage, id: usage.id ?? randomUUID(), timestamp: new Date().toISOString(), features: [...new Set(usage.features)] };
    const parsed = usageRecordSchema.safeParse(candidate);
    if (!parsed.success) {
      this.invalid++;
      this.opts.logger.warn("usage record dropped: it does not satisfy the license proxy's contract", {
        issues: parsed.error.issues.slice(0, 3).map((i) => `${i.path.join(".")}: ${i.message}`).join("; "),
        invalid_total: this.invalid,
      });
      return;
    }
    if (this.buffer.length >= this.maxBuffered) {
      this.buffer.shift();
      this.dropped++;
    }
    try {
      this.wal?.append(parsed.data);
    } catch (err) {
      // A full or broken volume must not fail the request: the record still goes out from memory.
      if (this.walFailures++ % 1000 === 0) this.opts.logger.error("usage write-ahead append failed", { error: (err as Error).message, failures: this.walFailures });
    }
    this.buffer.push(parsed.data);
  }

  usageBacklog(): UsageBacklog {
    return { pending: this.buffer.length, dropped: this.dropped, invalid: this.invalid };
  }

  /**
   * POST `batch`; resolves with the ids the proxy accepted. A 400 means some record breaks the contract
   * (a proxy of another version): halve the batch until the offending records are found alone, and drop
   * only those, counted, so one bad record never holds back the rest. Anything else retryable throws.
   */
  private async send(batch: UsageRecord[]): Promise<UsageRecord[]> {
    const res = await fetch(`${this.base}/v1/usage`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ records: batch }),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    if (res.status === 202 || res.status === 200) return batch;
    if (res.status !== 400) throw new Error(`license proxy answered ${res.status}`);
    if (batch.length === 1) {
      this.invalid++;
      this.opts.logger.warn("usage record refused by the license proxy; dropped", { answer: text.slice(0, 300), invalid_total: this.invalid });
      return batch;
    }
    const half = batch.length >> 1;
    return [...(await this.send(batch.slice(0, half))), ...(await this.send(batch.slice(half)))];
  }

  /** Send one batch; on failure back off (1 s doubling to 30 s) and keep the records. */
  flush(): Promise<void> {
    if (this.inFlight || this.buffer.length === 0 || Date.now() < this.nextFlushAt) return this.inFlight ?? Promise.resolve();
    const batch = this.buffer.slice(0, this.batchSize);
    this.inFlight = (async () => {
      try {
        const done = await this.send(batch);
        // Remove exactly the acknowledged (or refused) records; the oldest may have been dropped meanwhile.
        const sent = new Set(done.map((r) => r.id));
        // One pass (the backlog can hold 100,000 records after an outage; a splice per record is quadratic).
        let kept = 0;
        for (const r of this.buffer) if (!sent.has(r.id)) this.buffer[kept++] = r;
        this.buffer.length = kept;
        this.acknowledged();
        this.backoffMs = 0;
        this.nextFlushAt = 0;
        if (this.buffer.length >= this.batchSize) setImmediate(() => void this.flush());
      } catch (err) {
        this.backoffMs = Math.min(this.backoffMs ? this.backoffMs * 2 : 1000, 30_000);
        this.nextFlushAt = Date.now() + this.backoffMs;
        this.opts.logger.warn("usage upload failed; will retry", {
          error: (err as Error).message,
          pending: this.buffer.length,
          retry_in_ms: this.backoffMs,
        });
      } finally {
        this.inFlight = undefined;
      }
    })();
    return this.inFlight;
  }

  private acknowledged(): void {
    try {
      this.wal?.acknowledged(this.buffer);
    } catch (err) {
      // The file keeps acknowledged lines a while longer: replayed, they are deduplicated upstream by id.
      this.opts.logger.warn("usage write-ahead compaction failed", { error: (err as Error).message });
    }
  }

  /**
   * Stop the timers and keep delivering what is buffered until `deadlineMs` has passed (a proxy outage
   * during a graceful stop is retried, not given up after one try). What is left stays in the
   * write-ahead file for the next start.
   */
  async close(deadlineMs = 5000): Promise<void> {
    clearInterval(this.refreshTimer);
    clearInterval(this.flushTimer);
    const deadline = Date.now() + deadlineMs;
    while (this.buffer.length > 0 && Date.now() < deadline) {
      const before = this.buffer.length;
      this.nextFlushAt = 0;
      await this.flush();
      if (this.buffer.length >= before) await new Promise((r) => setTimeout(r, Math.min(250, Math.max(0, deadline - Date.now()))));
    }
    if (this.buffer.length > 0) {
      this.opts.logger.warn(this.wal ? "usage records left in the write-ahead file for the next start" : "usage records not delivered at shutdown", { pending: this.buffer.length });
    }
    this.wal?.close();
  }
}
