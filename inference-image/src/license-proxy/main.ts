/**
 * License proxy entry point: `node dist/license-proxy/main.js` (or `license-proxy serve`).
 * Start-up order matters: own STATE_DIR, recover the spool, load the persisted lease or license
 * file, and only then listen, so the first answer already reflects what survived a restart.
 */
import { unlink } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createLogger, type Logger } from "../shared/log";
import { ConfigError, loadConfig, type ProxyConfig } from "./config";
import { ensureStateDir, lockStateDir, StateDirLockedError } from "./files";
import { LicenseManager } from "./license";
import { createProxyMetrics, type ProxyMetrics } from "./metrics";
import { createAdminServer, createProxyServer } from "./server";
import { Spool } from "./spool";
import { Uploader } from "./uploader";
import { loadOrCreateInstallationKey } from "./usage-export";

export interface RunningProxy {
  port: number;
  close(): Promise<void>;
}

export const adminSocketPath = (stateDir: string) => join(stateDir, "admin.sock");

function listen(server: Server, target: { port: number; host: string } | { path: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    const done = () => {
      server.off("error", reject);
      resolve();
    };
    if ("path" in target) server.listen(target.path, done);
    else server.listen(target.port, target.host, done);
  });
}

export async function startProxy(config: ProxyConfig, log: Logger): Promise<RunningProxy> {
  await ensureStateDir(config.stateDir);
  const unlock = await lockStateDir(config.stateDir);
  const installationKey = await loadOrCreateInstallationKey(config.stateDir);
  const spool = await Spool.open(config.stateDir, log);
  log.info("usage spool recovered", { pending: spool.depth, torn_tails_dropped: spool.recovery.tornTails, damaged_lines_skipped: spool.recovery.corruptLines });

  let metrics: ProxyMetrics | undefined;
  const license = new LicenseManager(config, installationKey.id, log, { onRenewal: (ok) => (ok ? undefined : metrics?.renewalFailures.inc()) });
  metrics = createProxyMetrics(license, spool);
  const m = metrics;
  await license.start();
  const uploader =
    config.mode === "online"
      ? new Uploader(config, spool, log, {
          onUpload: ({ ok, settled }) => {
            m.recordsUploaded.inc(settled);
            if (!ok) m.uploadFailures.inc();
          },
        })
      : null;
  uploader?.start();

  const deps = { license, spool, metrics: m, uploader, installationKey, log };
  const server = createProxyServer(deps);
  await listen(server, { port: config.port, host: config.host });
  const admin = createAdminServer(deps);
  const socket = adminSocketPath(config.stateDir);
  await unlink(socket).catch(() => undefined);
  await listen(admin, { path: socket }).catch((e: Error) => log.warn("admin socket unavailable; export-usage needs the proxy stopped", { error: e.message }));

  const port = (server.address() as AddressInfo).port;
  const s = license.status();
  log.info("license proxy listening", { port, mode: config.mode, installation_id: installationKey.id, license_valid: s.license_valid, valid_until: s.valid_until });
  return {
    port,
    async close() {
      license.stop();
      uploader?.stop();
      await new Promise<void>((resolve) => admin.close(() => resolve()));
      server.closeIdleConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await spool.close();
      await unlock();
    },
  };
}

export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const log = createLogger("license-proxy");
  let config: ProxyConfig;
  try {
    config = loadConfig(env);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`license-proxy: ${e.message}\n`);
    process.exit(2);
  }
  let proxy: RunningProxy;
  try {
    proxy = await startProxy(config, log);
  } catch (e) {
    const message = e instanceof StateDirLockedError ? e.message : `start-up failed: ${(e as Error).message}`;
    log.error(message);
    process.stderr.write(`license-proxy: ${message}\n`);
    process.exit(1);
  }
  const stop = (signal: string) => {
    log.info("stopping", { signal });
    proxy.close().then(
      () => process.exit(0),
      (e: Error) => {
        log.error("unclean stop", { error: e.message });
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

if (require.main === module) void main();
