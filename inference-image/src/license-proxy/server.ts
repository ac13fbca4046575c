/**
 * The proxy's HTTP API for the inference servers (see shared/license-protocol.ts), and its admin API
 * on a Unix socket inside STATE_DIR (reachable only from inside the pod, e.g. `kubectl exec ...
 * license-proxy export-usage`), so the export runs in the process that owns the spool.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { isAbsolute } from "node:path";
import { HttpError, KEEP_ALIVE_TIMEOUT_MS, readJson, sendJson } from "../shared/http";
import { authorizeRequestSchema, usageBatchSchema } from "../shared/license-protocol";
import type { Logger } from "../shared/log";
import { serveMetrics } from "../shared/metrics";
import type { LicenseManager } from "./license";
import type { ProxyMetrics } from "./metrics";
import type { Spool } from "./spool";
import type { Uploader } from "./uploader";
import { exportUsage, type InstallationKey } from "./usage-export";

/** 1000 records of a few hundred bytes each, with room to spare. */
const MAX_BODY_BYTES = 2 * 1024 * 1024;

/** Proxy answers are about this moment's license and spool: never cached. */
const NO_STORE = { "cache-control": "no-store" };

const send = (res: ServerResponse, status: number, body: unknown): void => sendJson(res, status, body, NO_STORE);

function invalid(what: string, issues: { path: (string | number)[]; message: string }[]): HttpError {
  return new HttpError(400, "invalid_request", `invalid ${what}: ${issues.slice(0, 5).map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`).join("; ")}`);
}

export interface ProxyDeps {
  license: LicenseManager;
  spool: Spool;
  metrics: ProxyMetrics;
  uploader: Uploader | null;
  installationKey: InstallationKey;
  log: Logger;
}

function healthBody(deps: Pick<ProxyDeps, "license" | "spool">) {
  const s = deps.license.status();
  return {
    // A spool that cannot be written refuses usage (503): not "ok", whatever the license says.
    status: !s.license_valid ? "unlicensed" : deps.spool.writeError ? "spool_unwritable" : s.grace_period_active ? "grace" : "ok",
    license_valid: s.license_valid,
    license_id: s.license_id,
    valid_until: s.valid_until,
    lease_expires_at: s.lease_expires_at,
    grace_period_active: s.grace_period_active,
    grace_remaining_s: s.grace_remaining_s,
    mode: s.mode,
    spool_depth: deps.spool.depth,
    spool_error: deps.spool.writeError,
    problem: s.problem,
    last_renewal_at: s.last_renewal_at,
    last_renewal_error: s.last_renewal_error,
  };
}

function handler(route: (req: IncomingMessage, res: ServerResponse) => Promise<void>, log: Logger) {
  return (req: IncomingMessage, res: ServerResponse) => {
    route(req, res).catch((e: unknown) => {
      if (res.headersSent) return res.destroy();
      if (e instanceof HttpError) return send(res, e.status, { error: { message: e.message, code: e.code } });
      log.error("request failed", { method: req.method, path: req.url, error: (e as Error).message });
      send(res, 500, { error: { message: "internal error" } });
    });
  };
}

export function createProxyServer(deps: ProxyDeps): Server {
  const { license, spool, metrics, uploader } = deps;
  const server = createServer(
    handler(async (req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      if (req.method === "POST" && path === "/v1/authorize") {
        const parsed = authorizeRequestSchema.safeParse(await readJson(req, MAX_BODY_BYTES));
        if (!parsed.success) throw invalid("authorize request", parsed.error.issues);
        const decision = license.authorize(parsed.data);
        metrics.authorizeDecisions.inc({ decision: decision.allowed ? "allowed" : decision.code });
        return send(res, decision.allowed ? 200 : 403, decision);
      }
      if (req.method === "POST" && path === "/v1/usage") {
        const parsed = usageBatchSchema.safeParse(await readJson(req, MAX_BODY_BYTES));
        if (!parsed.success) throw invalid("usage batch", parsed.error.issues);
        try {
          await spool.append(parsed.data.records);
        } catch {
          throw new HttpError(503, "spool_unwritable", "usage could not be stored durably; retry");
        }
        metrics.usageRecordsSpooled.inc(parsed.data.records.length);
        uploader?.nudge();
        return send(res, 202, { accepted: parsed.data.records.length });
      }
      if (req.method === "GET" && path === "/health") return send(res, 200, healthBody(deps));
      if (req.method === "GET" && path === "/metrics") return serveMetrics(metrics.registry, req, res);
      throw new HttpError(404, "not_found", `no route for ${req.method} ${path}`);
    }, deps.log),
  );
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = 66_000;
  return server;
}

export function createAdminServer(deps: ProxyDeps): Server {
  return createServer(
    handler(async (req, res) => {
      if (req.method !== "POST" || req.url !== "/v1/export") throw new HttpError(404, "not_found", "the admin socket serves POST /v1/export only");
      const out = await readJson(req, MAX_BODY_BYTES);
      if (typeof out.out !== "string" || !isAbsolute(out.out)) throw new HttpError(400, "invalid_request", '"out" must be an absolute path');
      const exported = await exportUsage(deps.spool, deps.installationKey, out.out, deps.license.status().license_id);
      deps.log.info("usage exported", { records: exported, file: out.out });
      send(res, 200, { exported, file: exported > 0 ? out.out : null });
    }, deps.log),
  );
}
