/** The proxy's Prometheus metrics. Gauges about the license are computed at scrape time from the live state. */
import { Counter, Gauge, type Registry } from "prom-client";
import { createRegistry } from "../shared/metrics";
import type { LicenseManager } from "./license";
import type { Spool } from "./spool";

export interface ProxyMetrics {
  registry: Registry;
  authorizeDecisions: Counter<"decision">;
  usageRecordsSpooled: Counter;
  uploadFailures: Counter;
  recordsUploaded: Counter;
  renewalFailures: Counter;
}

export function createProxyMetrics(license: LicenseManager, spool: Spool): ProxyMetrics {
  const registry = createRegistry();
  const at = (iso: string | null) => (iso ? Date.parse(iso) / 1000 : 0);
  new Gauge({
    name: "license_proxy_grace_period_active",
    help: "1 while serving on a lease past its expiry (the license server has not renewed it)",
    registers: [registry],
    collect() {
      this.set(license.status().grace_period_active ? 1 : 0);
    },
  });
  new Gauge({
    name: "license_proxy_license_valid",
    help: "1 while the proxy authorizes requests",
    registers: [registry],
    collect() {
      this.set(license.status().license_valid ? 1 : 0);
    },
  });
  new Gauge({
    name: "license_proxy_lease_expiry_timestamp_seconds",
    help: "Expiry (exp) of the current lease or license file, Unix seconds; 0 when there is none",
    registers: [registry],
    collect() {
      this.set(at(license.status().lease_expires_at));
    },
  });
  new Gauge({
    name: "license_proxy_valid_until_timestamp_seconds",
    help: "When serving stops unless renewed (exp + grace online, exp offline), Unix seconds; 0 when there is no license",
    registers: [registry],
    collect() {
      this.set(at(license.status().valid_until));
    },
  });
  new Gauge({
    name: "license_proxy_spool_depth",
    help: "Usage records durably spooled and not yet accepted upstream or exported",
    registers: [registry],
    collect() {
      this.set(spool.depth);
    },
  });
  new Gauge({
    name: "license_proxy_spool_writable",
    help: "1 while the usage spool's last write succeeded; 0 while it fails (usage is refused with 503, e.g. STATE_DIR full)",
    registers: [registry],
    collect() {
      this.set(spool.writeError === null ? 1 : 0);
    },
  });
  return {
    registry,
    authorizeDecisions: new Counter({
      name: "license_proxy_authorize_decisions_total",
      help: "Authorize decisions, by outcome (allowed, or the deny code)",
      labelNames: ["decision"] as const,
      registers: [registry],
    }),
    usageRecordsSpooled: new Counter({ name: "license_proxy_usage_records_spooled_total", help: "Usage records durably spooled", registers: [registry] }),
    uploadFailures: new Counter({
      name: "license_proxy_usage_upload_failures_total",
      help: "Usage uploads that failed or were only partly accepted",
      registers: [registry],
    }),
    recordsUploaded: new Counter({ name: "license_proxy_usage_records_accepted_total", help: "Usage records the license server accepted", registers: [registry] }),
    renewalFailures: new Counter({ name: "license_proxy_lease_renewal_failures_total", help: "Failed lease renewals", registers: [registry] }),
  };
}
