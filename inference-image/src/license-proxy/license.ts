/**
 * What the proxy currently believes about its license, and how it keeps that belief fresh:
 * online, by renewing a lease from the upstream (persisted, so a restart during an outage keeps the
 * same grace end); offline, by reading a license file (re-read when it changes, so dropping in a new
 * license needs no restart). Decisions are made in memory: an authorize call never waits on I/O.
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { AuthorizeRequest, AuthorizeResponse, DenyCode } from "../shared/license-protocol";
import type { Logger } from "../shared/log";
import { backoffDelayMs, Loop } from "./backoff";
import type { ProxyConfig } from "./config";
import { writeFileAtomic } from "./files";
import { entitled, LeaseError, verifyLease, type Lease } from "./lease";

export interface LicenseStatus {
  mode: "online" | "offline";
  license_valid: boolean;
  license_id: string | null;
  /** When serving stops unless renewed: lease exp + grace online, exp offline. */
  valid_until: string | null;
  lease_expires_at: string | null;
  grace_period_active: boolean;
  grace_remaining_s: number;
  /** Why there is no usable license, when there is none (or why the last renewal failed). */
  problem: { code: DenyCode; message: string } | null;
  last_renewal_at: string | null;
  last_renewal_error: string | null;
}

export interface LicenseEvents {
  onRenewal(ok: boolean): void;
}

export class LicenseManager {
  private lease: Lease | null = null;
  private problem: { code: DenyCode; message: string } | null = null;
  private rejectedPersisted: { code: DenyCode; message: string } | null = null;
  private lastRenewalAt: Date | null = null;
  private lastRenewalError: string | null = null;
  private failures = 0;
  private licenseFileMtime = 0;
  private readonly loop: Loop;
  private readonly leasePath: string;

  constructor(
    private readonly config: ProxyConfig,
    private readonly installationId: string,
    private readonly log: Logger,
    private readonly events: LicenseEvents,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.leasePath = join(config.stateDir, "lease.jwt");
    this.loop = new Loop(() => (config.mode === "online" ? this.renew() : this.reloadLicenseFile()));
  }

  /** Load what is on disk (persisted lease, or the license file), then keep it fresh in the background. */
  async start(): Promise<void> {
    if (this.config.mode === "online") {
      await this.loadPersistedLease();
      this.loop.start(0);
    } else {
      await this.reloadLicenseFile();
      this.loop.start(this.config.renewIntervalMs);
    }
  }

  stop(): void {
    this.loop.stop();
  }

  private graceSeconds(lease: Lease): number {
    return this.config.mode === "offline" ? 0 : Math.min(this.config.graceSeconds, lease.claims.grace_s);
  }

  /** Seconds since the epoch at which serving ends for this lease. */
  private endOf(lease: Lease): number {
    return lease.claims.exp + this.graceSeconds(lease);
  }

  authorize(req: AuthorizeRequest): AuthorizeResponse {
    const lease = this.lease;
    if (!lease) {
      const p = this.problem ?? { code: "NO_LICENSE" as const, message: "no lease yet: the license server has not been reached since start and none was persisted" };
      return { allowed: false, code: p.code, message: p.message };
    }
    const nowS = this.now().getTime() / 1000;
    const end = this.endOf(lease);
    if (nowS >= end) {
      const message =
        this.config.mode === "offline"
          ? `the offline license ${lease.claims.sub} expired at ${iso(lease.claims.exp)}`
          : `the lease for license ${lease.claims.sub} expired at ${iso(lease.claims.exp)} and its grace ended at ${iso(end)}` +
            (this.lastRenewalError ? ` (last renewal error: ${this.lastRenewalError})` : "");
      return { allowed: false, code: "LICENSE_EXPIRED", message };
    }
    if (!entitled(lease.claims.ent.features, req.feature)) {
      return { allowed: false, code: "NOT_ENTITLED", message: `license ${lease.claims.sub} does not include the feature "${req.feature}"` };
    }
    if (!entitled(lease.claims.ent.models, req.model)) {
      return { allowed: false, code: "NOT_ENTITLED", message: `license ${lease.claims.sub} does not include the model "${req.model}"` };
    }
    return { allowed: true, license_id: lease.claims.sub, valid_until: iso(end), grace_period_active: nowS >= lease.claims.exp };
  }

  status(): LicenseStatus {
    const lease = this.lease;
    const nowS = this.now().getTime() / 1000;
    const end = lease ? this.endOf(lease) : null;
    const valid = lease !== null && end !== null && nowS < end;
    const inGrace = valid && lease !== null && nowS >= lease.claims.exp;
    let problem = this.problem;
    if (lease && !valid) problem = { code: "LICENSE_EXPIRED", message: `expired; serving ended at ${iso(end as number)}` };
    return {
      mode: this.config.mode,
      license_valid: valid,
      license_id: lease?.claims.sub ?? null,
      valid_until: end !== null ? iso(end) : null,
      lease_expires_at: lease ? iso(lease.claims.exp) : null,
      grace_period_active: inGrace,
      grace_remaining_s: inGrace ? Math.max(0, Math.floor((end as number) - nowS)) : 0,
      problem: valid ? null : (problem ?? { code: "NO_LICENSE", message: "no lease yet" }),
      last_renewal_at: this.lastRenewalAt?.toISOString() ?? null,
      last_renewal_error: this.lastRenewalError,
    };
  }

  private async verify(token: string): Promise<Lease> {
    return verifyLease(token, this.config.vendorKey, { now: this.now(), toleranceSeconds: this.config.mode === "offline" ? 0 : this.config.graceSeconds });
  }

  private async loadPersistedLease(): Promise<void> {
    let token: string;
    try {
      token = await readFile(this.leasePath, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") this.log.error("cannot read the persisted lease", { error: (e as Error).message });
      return;
    }
    try {
      this.lease = await this.verify(token);
      this.log.info("persisted lease loaded", { license_id: this.lease.claims.sub, lease_expires_at: iso(this.lease.claims.exp), valid_until: iso(this.endOf(this.lease)) });
    } catch (e) {
      if (!(e instanceof LeaseError)) throw e;
      this.rejectedPersisted = { code: e.reason === "EXPIRED" ? "LICENSE_EXPIRED" : "LICENSE_INVALID", message: `persisted lease rejected: ${e.message}` };
      this.problem = this.rejectedPersisted;
      this.log.error("persisted lease rejected", { reason: e.reason, error: e.message, file: this.leasePath });
    }
  }

  /** One renewal attempt; returns the delay until the next one. */
  private async renew(): Promise<number> {
    try {
      const token = await this.fetchLease();
      const lease = await this.verify(token);
      // Persist, then adopt: a lease anyone has seen in use survives a restart. A full STATE_DIR must not
      // stop renewals, though: then serve from the renewed lease and persist it when there is room.
      await writeFileAtomic(this.leasePath, token).catch((e: Error) => this.log.error("cannot persist the renewed lease; it is used from memory", { error: e.message }));
      this.lease = lease;
      this.problem = null;
      this.lastRenewalAt = this.now();
      this.lastRenewalError = null;
      this.failures = 0;
      this.events.onRenewal(true);
      this.log.info("lease renewed", { license_id: lease.claims.sub, lease_expires_at: iso(lease.claims.exp), valid_until: iso(this.endOf(lease)) });
      // Renew well before exp so one failed attempt does not start the grace period.
      const untilExpMs = lease.claims.exp * 1000 - this.now().getTime();
      return Math.max(50, Math.min(this.config.renewIntervalMs, untilExpMs / 2));
    } catch (e) {
      const message = e instanceof LeaseError ? `the license server sent an unusable lease: ${e.message}` : (e as Error).message;
      this.lastRenewalError = message;
      if (!this.lease) {
        // Keep the reason a persisted lease was refused: it is the more useful half of the story.
        const first = this.rejectedPersisted;
        this.problem = first
          ? { code: first.code, message: `${first.message}; and no new lease: ${message}` }
          : { code: e instanceof LeaseError ? "LICENSE_INVALID" : "NO_LICENSE", message: `no valid lease: ${message}` };
      }
      this.events.onRenewal(false);
      const delay = backoffDelayMs(this.failures++, 1000, this.config.renewRetryMaxMs);
      const s = this.status();
      this.log.warn("lease renewal failed", { error: message, retry_in_ms: Math.round(delay), license_valid: s.license_valid, valid_until: s.valid_until, grace_period_active: s.grace_period_active });
      return delay;
    }
  }

  private async fetchLease(): Promise<string> {
    const res = await fetch(`${this.config.licenseServerUrl}/v1/leases`, {
      method: "POST",
      headers: { authorization: `Bearer ${this.config.licenseKey}`, "content-type": "application/json" },
      body: JSON.stringify({ installation_id: this.installationId }),
      signal: AbortSignal.timeout(this.config.upstreamTimeoutMs),
    }).catch((e: Error) => {
      throw new Error(`license server unreachable: ${describeFetchError(e)}`);
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`license server answered ${res.status}: ${text.slice(0, 200)}`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error("license server answered with something that is not JSON");
    }
    const lease = (body as { lease?: unknown }).lease;
    if (typeof lease !== "string") throw new Error('license server answer has no "lease" string');
    return lease;
  }

  /** Offline mode: (re)read the license file when it changed. Returns the delay until the next check. */
  private async reloadLicenseFile(): Promise<number> {
    const path = this.config.licenseFile as string;
    try {
      const mtime = (await stat(path)).mtimeMs;
      if (mtime !== this.licenseFileMtime) {
        this.licenseFileMtime = mtime;
        const lease = await this.verify(await readFile(path, "utf8"));
        this.lease = lease;
        this.problem = null;
        this.log.info("offline license loaded", { license_id: lease.claims.sub, valid_until: iso(lease.claims.exp), file: path });
      }
    } catch (e) {
      const reason = e instanceof LeaseError ? e.reason : "UNREADABLE";
      const message = `license file ${path} rejected: ${e instanceof LeaseError ? e.message : (e as Error).message}`;
      this.lease = null;
      this.problem = { code: reason === "EXPIRED" ? "LICENSE_EXPIRED" : "LICENSE_INVALID", message };
      this.log.error("offline license rejected", { reason, error: message });
    }
    return this.config.renewIntervalMs;
  }
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

export function describeFetchError(e: Error): string {
  if (e.name === "TimeoutError") return "timed out";
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? e.message;
}
