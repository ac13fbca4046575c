/**
 * A full STATE_DIR under the real license proxy: a 512 KiB tmpfs that the spool fills while the
 * upstream refuses usage. Usage then gets 503 and health says so; lease renewals go on; once the
 * upstream takes usage again the full spool drains, the spool files work again (no "file closed"),
 * and every acknowledged record arrives. Needs root for `mount -t tmpfs`; without it the test is
 * skipped with the reason printed.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { proxyHarness } from "../license/harness";
import { call, health, usageRecord, waitFor } from "../license/helpers";

jest.setTimeout(90_000);

const mountPoint = mkdtempSync(join(tmpdir(), "fault-disk-"));
const mountError = (() => {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs", mountPoint], { stdio: "pipe" });
    return null;
  } catch (e) {
    return (e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message;
  }
})();
if (mountError) console.warn(`SKIPPED the full-disk test: cannot mount a small tmpfs (needs root): ${mountError}`);

// Its hooks come first: the proxy is killed (afterEach) before the tmpfs is unmounted (afterAll).
const h = proxyHarness({ upstream: true });

afterAll(() => {
  if (!mountError) execFileSync("umount", [mountPoint]);
  rmSync(mountPoint, { recursive: true, force: true });
});

(mountError ? it.skip : it)("answers 503 on a full disk, keeps renewing the lease, drains, and recovers", async () => {
  const upstream = h.upstream;
  upstream.faults.usage500s = Number.MAX_SAFE_INTEGER;
  const proxy = await h.start({
    STATE_DIR: mountPoint,
    LICENSE_SERVER_URL: upstream.url,
    LICENSE_KEY: upstream.licenseKey,
    LICENSE_PUBLIC_KEY: upstream.key.publicPem,
    LICENSE_RENEW_INTERVAL_SECONDS: "0.5",
    LICENSE_RETRY_MAX_SECONDS: "0.5",
    USAGE_UPLOAD_INTERVAL_SECONDS: "0.2",
    USAGE_RETRY_MAX_SECONDS: "0.5",
    USAGE_BATCH_SIZE: "100",
  });
  const port = proxy.port;
  await waitFor("a lease", async () => (await health(port)).body.license_valid === true);

  // Fill the disk: the spool refuses (503) once a write hits ENOSPC.
  const acked: string[] = [];
  let refused = false;
  for (let i = 0; i < 400 && !refused; i++) {
    const records = Array.from({ length: 50 }, () => usageRecord());
    const r = await call(port, "POST", "/v1/usage", { records });
    if (r.status === 202) acked.push(...records.map((x) => x.id));
    else {
      expect(r.status).toBe(503);
      refused = true;
    }
  }
  expect(refused).toBe(true);
  const full = await health(port);
  expect(full.body.status).toBe("spool_unwritable");
  expect(full.body.spool_error).toMatch(/ENOSPC/);
  expect((await call(port, "GET", "/metrics")).body).toMatch(/^license_proxy_spool_writable 0$/m);

  // Renewals do not need the disk: they keep succeeding while it is full.
  const leases = upstream.leaseRequests;
  await waitFor("two more lease renewals", () => upstream.leaseRequests >= leases + 2);
  await waitFor("a renewal without error", async () => (await health(port)).body.last_renewal_error === null);

  // The upstream takes usage again: the full spool drains, and takes new records again.
  upstream.faults.usage500s = 0;
  await waitFor("the spool to drain", async () => (await health(port)).body.spool_depth === 0, 30_000);
  const after = [usageRecord()];
  expect((await call(port, "POST", "/v1/usage", { records: after })).status).toBe(202);
  expect((await health(port)).body.status).toBe("ok");
  expect((await call(port, "GET", "/metrics")).body).toMatch(/^license_proxy_spool_writable 1$/m);
  await waitFor("the new record upstream", () => upstream.records.has(after[0].id));
  expect(acked.filter((id) => !upstream.records.has(id))).toEqual([]);
});
