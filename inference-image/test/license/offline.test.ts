/**
 * Offline (air-gapped) mode with real processes: no license server configured at all. The proxy
 * serves on a license file until its exp, picks up a replacement file without a restart, and
 * `license-proxy export-usage` writes the spool to a signed file that verifies (through the running
 * proxy, or directly when none runs). `verify-license` checks license files.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadOrCreateInstallationKey, verifyUsageExport } from "../../src/license-proxy/usage-export";
import { generateSigningKey, mintLease } from "../../src/license-proxy/tools/mint";
import { proxyHarness } from "./harness";
import { authorize, call, health, sleepUntil, tempDir, usageRecord, waitFor } from "./helpers";

jest.setTimeout(120_000);

const lp = proxyHarness();

const iso = (s: number) => new Date(s * 1000).toISOString();

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [join(lp.build, "license-proxy", "cli.js"), ...args], { encoding: "utf8", env: { PATH: process.env.PATH ?? "", ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("offline license: serves until exp with no network, exports usage to a signed file, takes a new license file without restart", async () => {
  const vendor = generateSigningKey();
  const dir = tempDir("offline");
  const keyFile = join(dir, "vendor.pem");
  writeFileSync(keyFile, vendor.publicPem);
  const exp = Math.floor(Date.now() / 1000) + 10;
  const licenseFile = join(dir, "license.jwt");
  writeFileSync(licenseFile, await mintLease(vendor, { sub: "lic-airgap", exp, grace_s: 86400, features: ["stt", "tts"] }));
  const env = { STATE_DIR: join(dir, "state"), LICENSE_FILE: licenseFile, LICENSE_PUBLIC_KEY_FILE: keyFile, LICENSE_RENEW_INTERVAL_SECONDS: "0.3" };
  const proxy = await lp.start(env);

  const h = await health(proxy.port);
  // Offline there is nothing to renew from, so no grace: serving ends at the license's own exp.
  expect(h.body).toMatchObject({ mode: "offline", license_valid: true, license_id: "lic-airgap", valid_until: iso(exp), grace_period_active: false });
  expect((await authorize(proxy.port, "tts", "slt")).body).toMatchObject({ allowed: true, valid_until: iso(exp) });

  const records = Array.from({ length: 50 }, (_, i) => usageRecord({ characters: i }));
  expect((await call(proxy.port, "POST", "/v1/usage", { records })).status).toBe(202);
  expect((await health(proxy.port)).body.spool_depth).toBe(50);

  // Export through the running proxy (it owns the spool).
  const out = join(dir, "usage-export.jws");
  const exported = cli(["export-usage", "--out", out], { STATE_DIR: env.STATE_DIR });
  expect(exported).toMatchObject({ code: 0, stdout: `exported 50 usage records to ${out}\n` });
  const body = await verifyUsageExport(readFileSync(out, "utf8"));
  const installation = await loadOrCreateInstallationKey(env.STATE_DIR);
  expect(body).toMatchObject({ type: "usage-export", installation_id: installation.id, license_id: "lic-airgap" });
  expect(body.records).toEqual(records);
  expect((await health(proxy.port)).body.spool_depth).toBe(0);
  expect(cli(["export-usage", "--out", join(dir, "again.jws")], { STATE_DIR: env.STATE_DIR }).stdout).toBe("no pending usage records; nothing written\n");

  // A changed byte breaks the signature.
  const [h64, p64, s64] = readFileSync(out, "utf8").trim().split(".");
  const forged = JSON.parse(Buffer.from(p64, "base64url").toString("utf8"));
  forged.records[0].audio_seconds = 0;
  await expect(verifyUsageExport([h64, Buffer.from(JSON.stringify(forged)).toString("base64url"), s64].join("."))).rejects.toThrow(/signature/);

  // verify-license prints the claims of a good file.
  const verified = cli(["verify-license", licenseFile, "--public-key", keyFile]);
  expect(verified.code).toBe(0);
  expect(JSON.parse(verified.stdout)).toMatchObject({ valid: true, valid_until: iso(exp), claims: { sub: "lic-airgap", ent: { features: ["stt", "tts"] } } });

  await sleepUntil(exp, 700);
  const expired = await authorize(proxy.port, "stt", "any");
  expect(expired.status).toBe(403);
  expect(expired.body).toMatchObject({ code: "LICENSE_EXPIRED", message: `the offline license lic-airgap expired at ${iso(exp)}` });
  const failed = cli(["verify-license", licenseFile], { LICENSE_PUBLIC_KEY: vendor.publicPem });
  expect(failed.code).toBe(1);
  expect(failed.stderr).toMatch(/not valid \(EXPIRED\): expired at/);

  // Operators drop in a renewed license file; the proxy picks it up without a restart.
  const exp2 = Math.floor(Date.now() / 1000) + 3600;
  writeFileSync(licenseFile, await mintLease(vendor, { sub: "lic-airgap", exp: exp2 }));
  await waitFor("the new license file", async () => (await authorize(proxy.port)).status === 200);
  expect((await health(proxy.port)).body).toMatchObject({ license_valid: true, valid_until: iso(exp2) });

  // With the proxy stopped, export-usage takes the state directory itself.
  expect((await call(proxy.port, "POST", "/v1/usage", { records: records.slice(0, 10).map(() => usageRecord()) })).status).toBe(202);
  await proxy.kill("SIGTERM");
  const direct = cli(["export-usage", "--out", join(dir, "direct.jws"), "--state-dir", env.STATE_DIR]);
  expect(direct).toMatchObject({ code: 0, stdout: expect.stringContaining("exported 10 usage records") });
  expect((await verifyUsageExport(readFileSync(join(dir, "direct.jws"), "utf8"))).records).toHaveLength(10);
  const restarted = await lp.start(env);
  expect((await health(restarted.port)).body.spool_depth).toBe(0);
});
