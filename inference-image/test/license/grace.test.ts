/**
 * Grace periods with a real proxy process: a persisted lease keeps serving while the license server
 * is unreachable, until exp + grace, across a SIGKILL; then 403 LICENSE_EXPIRED. And a renewed lease
 * is persisted, with the grace capped by the lease's own grace_s.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateSigningKey, mintLease } from "../../src/license-proxy/tools/mint";
import { FakeUpstream } from "./fake-upstream";
import { proxyHarness } from "./harness";
import { authorize, call, DEAD_URL, health, sleepUntil, tempDir, waitFor } from "./helpers";

jest.setTimeout(120_000);

const { start } = proxyHarness();

const iso = (s: number) => new Date(s * 1000).toISOString();

/** Whether `unixSeconds` is clearly past (true), clearly ahead (false), or too close to call on a loaded machine (undefined). */
function pastClearly(unixSeconds: number): boolean | undefined {
  const d = Date.now() / 1000 - unixSeconds;
  return Math.abs(d) < 1 ? undefined : d > 0;
}

test("upstream down from the start: a persisted lease serves until exp + grace, survives SIGKILL with the same end, then 403", async () => {
  const vendor = generateSigningKey();
  const dir = tempDir("grace");
  const exp = Math.floor(Date.now() / 1000) + 8;
  const grace = 6;
  writeFileSync(join(dir, "lease.jwt"), await mintLease(vendor, { sub: "lic-grace", exp, grace_s: 3600 }));
  const secret = "lk_secret_that_must_never_be_logged";
  const env = {
    STATE_DIR: dir,
    LICENSE_SERVER_URL: DEAD_URL,
    LICENSE_KEY: secret,
    LICENSE_PUBLIC_KEY: vendor.publicPem,
    LICENSE_GRACE_SECONDS: String(grace),
    LICENSE_RETRY_MAX_SECONDS: "1",
    UPSTREAM_TIMEOUT_SECONDS: "1",
  };
  let proxy = await start(env);

  const first = await authorize(proxy.port);
  expect(first.status).toBe(200);
  expect(first.body).toMatchObject({ allowed: true, license_id: "lic-grace", valid_until: iso(exp + grace) });
  const h1 = await health(proxy.port);
  expect(h1.body).toMatchObject({ license_valid: true, mode: "online", valid_until: iso(exp + grace), lease_expires_at: iso(exp) });
  if (pastClearly(exp) === false) expect(h1.body).toMatchObject({ status: "ok", grace_period_active: false, grace_remaining_s: 0 });

  await sleepUntil(exp, 1000);
  const inGrace = await authorize(proxy.port);
  expect(inGrace.status).toBe(200);
  expect(inGrace.body).toMatchObject({ allowed: true, grace_period_active: true, valid_until: iso(exp + grace) });
  const h2 = await health(proxy.port);
  expect(h2.body).toMatchObject({ status: "grace", license_valid: true, grace_period_active: true });
  expect(h2.body.grace_remaining_s).toBeGreaterThan(0);
  expect(h2.body.grace_remaining_s).toBeLessThanOrEqual(grace);
  expect(h2.body.last_renewal_error).toMatch(/unreachable/);
  const m = await call(proxy.port, "GET", "/metrics");
  expect(m.body).toMatch(/^license_proxy_grace_period_active 1$/m);
  expect(m.body).toMatch(new RegExp(`^license_proxy_lease_expiry_timestamp_seconds ${exp}$`, "m"));
  expect(m.body).toMatch(/^license_proxy_lease_renewal_failures_total [1-9]/m);

  // Crash during the outage: the restarted proxy serves on the persisted lease with the same end.
  await proxy.kill("SIGKILL");
  proxy = await start(env);
  if (pastClearly(exp + grace) === false) {
    const afterRestart = await authorize(proxy.port);
    expect(afterRestart.status).toBe(200);
    expect(afterRestart.body).toMatchObject({ allowed: true, grace_period_active: true, valid_until: iso(exp + grace) });
  }

  await sleepUntil(exp + grace, 1000);
  const expired = await authorize(proxy.port);
  expect(expired.status).toBe(403);
  expect(expired.body).toMatchObject({ allowed: false, code: "LICENSE_EXPIRED" });
  expect(expired.body.message).toContain(`grace ended at ${iso(exp + grace)}`);
  const h3 = await health(proxy.port);
  expect(h3.body).toMatchObject({ status: "unlicensed", license_valid: false, grace_period_active: false, problem: { code: "LICENSE_EXPIRED" } });
  const m2 = await call(proxy.port, "GET", "/metrics");
  expect(m2.body).toMatch(/^license_proxy_grace_period_active 0$/m);
  expect(m2.body).toMatch(/^license_proxy_authorize_decisions_total\{decision="LICENSE_EXPIRED"\} 1$/m);

  await proxy.kill("SIGTERM");
  expect(await proxy.exited()).toBe(0);
  const everything = JSON.stringify(proxy.logs) + proxy.stderr;
  expect(everything).not.toContain(secret);
});

test("a renewed lease is persisted and its grace_s caps LICENSE_GRACE_SECONDS; an outage after it keeps serving", async () => {
  const upstream = new FakeUpstream();
  await upstream.start();
  try {
    const exp = Math.floor(Date.now() / 1000) + 3600;
    upstream.leaseSpec = () => ({ sub: "lic-renewed", exp, grace_s: 120, features: ["stt"], models: ["whisper-*"] });
    const dir = tempDir("renew");
    const proxy = await start({
      STATE_DIR: dir,
      LICENSE_SERVER_URL: upstream.url,
      LICENSE_KEY: upstream.licenseKey,
      LICENSE_PUBLIC_KEY: JSON.stringify(upstream.key.publicJwk),
      LICENSE_RENEW_INTERVAL_SECONDS: "0.3",
      LICENSE_RETRY_MAX_SECONDS: "1",
      UPSTREAM_TIMEOUT_SECONDS: "1",
    });
    const h = await waitFor("a renewed lease", async () => {
      const r = await health(proxy.port);
      return r.body.license_valid ? r.body : undefined;
    });
    expect(h).toMatchObject({ license_id: "lic-renewed", valid_until: iso(exp + 120), grace_period_active: false });
    expect(readFileSync(join(dir, "lease.jwt"), "utf8").split(".")).toHaveLength(3);
    expect(existsSync(join(dir, "installation-key.jwk"))).toBe(true);

    // Entitlements: features and model families.
    expect((await authorize(proxy.port, "stt", "whisper-large")).status).toBe(200);
    const tts = await authorize(proxy.port, "tts", "whisper-large");
    expect(tts.status).toBe(403);
    expect(tts.body).toMatchObject({ code: "NOT_ENTITLED", message: expect.stringContaining('"tts"') });
    const model = await authorize(proxy.port, "stt", "parakeet");
    expect(model.body).toMatchObject({ code: "NOT_ENTITLED", message: expect.stringContaining('"parakeet"') });

    const before = upstream.leaseRequests;
    await waitFor("periodic renewals", () => upstream.leaseRequests >= before + 2);
    upstream.faults.down = true;
    await waitFor("a failed renewal to be reported", async () => (await health(proxy.port)).body.last_renewal_error !== null || undefined);
    expect((await authorize(proxy.port, "stt", "whisper-small")).status).toBe(200);
  } finally {
    await upstream.stop();
  }
});
