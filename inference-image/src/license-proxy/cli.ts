#!/usr/bin/env node
/**
 * `license-proxy serve | export-usage --out FILE | verify-license FILE`.
 * export-usage asks the running proxy (admin socket in STATE_DIR) to do the export, since it owns the
 * spool; with no proxy running it takes STATE_DIR itself.
 */
import { request } from "node:http";
import { readFile } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import { parseArgs } from "node:util";
import { silentLogger } from "../shared/log";
import { ConfigError, vendorKeyFromEnv } from "./config";
import { ensureStateDir, lockStateDir } from "./files";
import { LeaseError, loadVendorKey, verifyLease } from "./lease";
import { adminSocketPath, main } from "./main";
import { Spool } from "./spool";
import { exportUsage, loadOrCreateInstallationKey } from "./usage-export";

const USAGE = `usage:
  license-proxy serve                         run the proxy (configured by environment)
  license-proxy export-usage --out FILE       write pending usage to a signed file and mark it exported
                            [--state-dir DIR] (default: $STATE_DIR or /var/lib/license-proxy)
  license-proxy verify-license FILE           check a license file and print its claims
                            [--public-key FILE] (default: $LICENSE_PUBLIC_KEY / $LICENSE_PUBLIC_KEY_FILE)`;

class UsageError extends Error {}

function viaAdminSocket(socketPath: string, out: string): Promise<{ exported: number } | null> {
  return new Promise((resolvePromise, reject) => {
    const req = request({ socketPath, method: "POST", path: "/v1/export", headers: { "content-type": "application/json" } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { exported?: number; error?: { message: string } };
        if (res.statusCode !== 200) reject(new Error(body.error?.message ?? `export failed (${res.statusCode})`));
        else resolvePromise({ exported: body.exported ?? 0 });
      });
    });
    req.on("error", (e: NodeJS.ErrnoException) => (e.code === "ENOENT" || e.code === "ECONNREFUSED" ? resolvePromise(null) : reject(e)));
    req.end(JSON.stringify({ out }));
  });
}

async function exportCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { out: { type: "string" }, "state-dir": { type: "string" } } });
  if (!values.out) throw new UsageError("export-usage needs --out FILE");
  const out = isAbsolute(values.out) ? values.out : resolve(values.out);
  const stateDir = values["state-dir"] ?? process.env.STATE_DIR ?? "/var/lib/license-proxy";
  let exported = (await viaAdminSocket(adminSocketPath(stateDir), out))?.exported;
  if (exported === undefined) {
    await ensureStateDir(stateDir);
    const unlock = await lockStateDir(stateDir);
    try {
      const spool = await Spool.open(stateDir, silentLogger);
      try {
        exported = await exportUsage(spool, await loadOrCreateInstallationKey(stateDir), out, null);
      } finally {
        await spool.close();
      }
    } finally {
      await unlock();
    }
  }
  process.stdout.write(exported > 0 ? `exported ${exported} usage records to ${out}\n` : "no pending usage records; nothing written\n");
  return 0;
}

async function verifyCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { "public-key": { type: "string" } } });
  if (positionals.length !== 1) throw new UsageError("verify-license needs exactly one FILE");
  const vendor = values["public-key"] ? loadVendorKey(await readFile(values["public-key"], "utf8")) : vendorKeyFromEnv(process.env);
  const token = await readFile(positionals[0], "utf8");
  try {
    const lease = await verifyLease(token, vendor, { now: new Date(), toleranceSeconds: 0 });
    process.stdout.write(`${JSON.stringify({ valid: true, valid_until: new Date(lease.claims.exp * 1000).toISOString(), claims: lease.claims }, null, 2)}\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof LeaseError)) throw e;
    process.stderr.write(`license file ${positionals[0]} is not valid (${e.reason}): ${e.message}\n`);
    return 1;
  }
}

/** Resolves to the exit code, or null for `serve`, which keeps running. */
async function cli(argv: string[]): Promise<number | null> {
  const [command, ...rest] = argv;
  switch (command) {
    case "serve":
      await main();
      return null;
    case "export-usage":
      return exportCommand(rest);
    case "verify-license":
      return verifyCommand(rest);
    default:
      throw new UsageError(command ? `unknown command "${command}"` : "no command given");
  }
}

cli(process.argv.slice(2)).then(
  (code) => {
    if (code !== null) process.exitCode = code;
  },
  (e: Error) => {
    const usage = e instanceof UsageError;
    process.stderr.write(`license-proxy: ${e.message}\n${usage ? `${USAGE}\n` : ""}`);
    process.exitCode = usage || e instanceof ConfigError ? 2 : 1;
  },
);
