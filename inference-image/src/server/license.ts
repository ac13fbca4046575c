/**
 * The server side of the license hook (protocol: ../shared/license-protocol.ts).
 *
 * Authorization: one decision per feature, refreshed in the background every `refreshMs`, so no request
 * waits on the proxy. If the proxy stops answering, the last "allowed" keeps holding until its
 * `valid_until` (the proxy already folded its grace period into that time), then serving stops.
 *
 * Usage: one metadata record per request, buffered in memory (bounded: oldest dropped and counted when
 * full) and sent in batches until the proxy acknowledges them (202 after it spooled them durably).
 */
import { randomUUID } from "node:crypto";
import type { AuthorizeResponse, DenyCode, Feature, UsageRecord } from "../shared/license-protocol";
import { FEATURES } from "../shared/license-protocol";
import type { Logger } from "../shared/log";
import { HttpError } from "./errors";

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
  record(usage: Omit<UsageRecord, "id" | "timestamp">): void;
  status(): LicenseStatus;
  /** Records waiting for acknowledgement, and records dropped because the buffer was full. */
  usageBacklog(): { pending: number; dropped: number };
  close(): Promise<void>;
}

/** No proxy configured: everything is allowed and nothing is reported ("local mode"). */
export class LocalLicense implements LicenseGate {
  check(): void {}
  record(): void {}
  status(): LicenseStatus {
    return { mode: "local", allowed: true, message: "local mode: no LICENSE_PROXY_URL, usage is not reported" };
  }
  usageBacklog() {
    return { pending: 0, dropped: 0 };
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
}

interface Decision {
  response: AuthorizeResponse;
  receivedAt: number;
}

export class ProxyLicense implements LicenseGate {
  private readonly decisions = new Map<Feature, Decision>();
  private readonly buffer: UsageRecord[] = [];
  private dropped = 0;
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
    this.maxBuffered = opts.maxBufferedRecords ?? 10_000;
    this.batchSize = Math.min(opts.batchSize ?? 500, 1000);
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
    if (s.code === "LICENSE_PENDING") throw new HttpError(503, "license_pending", s.message ?? "license pending", { "retry-after": "1" });
    throw new HttpError(403, s.code ?? "license_denied", s.message ?? "serving is not licensed");
  }

  /** Serving is allowed when any feature is: a license without TTS still serves STT. */
  status(): LicenseStatus {
    const all = FEATURES.map((f) => this.current(f));
    return all.find((s) => s.allowed) ?? all[0];
  }

  record(usage: Omit<UsageRecord, "id" | "timestamp">): void {
    if (this.buffer.length >= this.maxBuffered) {
      this.buffer.shift();
      this.dropped++;
    }
    this.buffer.push({ id: randomUUID(), timestamp: new Date().toISOString(), ...usage });
  }

  usageBacklog() {
    return { pending: this.buffer.length, dropped: this.dropped };
  }

  /** Send one batch; on failure back off (1 s doubling to 30 s) and keep the records. */
  flush(): Promise<void> {
    if (this.inFlight || this.buffer.length === 0 || Date.now() < this.nextFlushAt) return this.inFlight ?? Promise.resolve();
    const batch = this.buffer.slice(0, this.batchSize);
    this.inFlight = (async () => {
      try {
        const res = await fetch(`${this.base}/v1/usage`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ records: batch }),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        await res.arrayBuffer();
        if (res.status !== 202 && res.status !== 200) throw new Error(`license proxy answered ${res.status}`);
        // Remove exactly the acknowledged records; the oldest may have been dropped meanwhile.
        const sent = new Set(batch.map((r) => r.id));
        for (let i = this.buffer.length - 1; i >= 0; i--) if (sent.has(this.buffer[i].id)) this.buffer.splice(i, 1);
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

  /** Stop the timers and make a last bounded effort to deliver what is buffered. */
  async close(deadlineMs = 5000): Promise<void> {
    clearInterval(this.refreshTimer);
    clearInterval(this.flushTimer);
    const deadline = Date.now() + deadlineMs;
    this.nextFlushAt = 0;
    while (this.buffer.length > 0 && Date.now() < deadline) {
      const before = this.buffer.length;
      await this.flush();
      if (this.buffer.length >= before) break;
    }
    if (this.buffer.length > 0) this.opts.logger.warn("usage records not delivered at shutdown", { pending: this.buffer.length });
  }
}
