/**
 * Bad input, with real processes: tampered or wrongly signed leases, expired and garbled license
 * files, a corrupted spool tail, bad configuration. Each gets a message that says what is wrong,
 * and none crashes the proxy.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeFrame } from "../../src/license-proxy/spool";
import { generateSigningKey, mintLease } from "../../src/license-proxy/tools/mint";
import { FakeUpstream } from "./fake-upstream";
import { proxyHarness } from "./harness";
import { authorize, call, callRaw, DEAD_URL, health, tempDir, usageRecord, waitFor, writeThenDisconnect } from "./helpers";

jest.setTimeout(120_000);

const lp = proxyHarness();
const { start } = lp;

function verifyCli(file: string, publicPem: string) {
  const r = spawnSync(process.execPath, [join(lp.build, "license-proxy", "cli.js"), "verify-license", file], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", LICENSE_PUBLIC_KEY: publicPem },
  });
  return { code: r.status, stderr: r.stderr };
}

/** Change the payload of a signed token, keeping its signature. */
function tamper(token: string): string {
  const [h, p, s] = token.split(".");
  const claims = JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
  claims.exp += 365 * 86400;
  return [h, Buffer.from(JSON.stringify(claims)).toString("base64url"), s].join(".");
}

const exp = () => Math.floor(Date.now() / 1000) + 3600;

test("persisted leases that are altered or signed by another key are refused with the reason; the proxy keeps running", async () => {
  const vendor = generateSigningKey();
  const other = generateSigningKey();
  const cases = [
    { token: tamper(await mintLease(vendor, { sub: "lic", exp: exp() })), reason: "TAMPERED", message: /altered after signing/ },
    { token: await mintLease(other, { sub: "lic", exp: exp() }), reason: "WRONG_KEY", message: new RegExp(`signed by a different key \\(kid ${other.kid}\\)`) },
    { token: await mintLease(other, { sub: "lic", exp: exp(), omitKid: true }), reason: "WRONG_KEY", message: /altered, or signed by a key this proxy does not trust/ },
    { token: "not-a-jwt", reason: "MALFORMED", message: /not a compact JWS/ },
  ];
  for (const c of cases) {
    const dir = tempDir("bad-lease");
    writeFileSync(join(dir, "lease.jwt"), c.token);
    const proxy = await start({ STATE_DIR: dir, LICENSE_SERVER_URL: DEAD_URL, LICENSE_KEY: "lk", LICENSE_PUBLIC_KEY: vendor.publicPem, UPSTREAM_TIMEOUT_SECONDS: "1" });
    const denied = await authorize(proxy.port);
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ allowed: false, code: "LICENSE_INVALID" });
    expect(denied.body.message).toMatch(c.message);
    expect((await health(proxy.port)).body).toMatchObject({ status: "unlicensed", license_valid: false, problem: { code: "LICENSE_INVALID" } });
    expect(proxy.logs.find((l) => l.msg === "persisted lease rejected")).toMatchObject({ level: "error", reason: c.reason });
    // Usage is still taken: it records requests that were served before.
    expect((await call(proxy.port, "POST", "/v1/usage", { records: [usageRecord()] })).status).toBe(202);

    const file = join(dir, "license.jwt");
    writeFileSync(file, c.token);
    const v = verifyCli(file, vendor.publicPem);
    expect(v.code).toBe(1);
    expect(v.stderr).toContain(`(${c.reason})`);
    expect(v.stderr).toMatch(c.message);
    await proxy.kill();
  }
});

test("an expired offline license: 403 LICENSE_EXPIRED with the date, health says so, no crash", async () => {
  const vendor = generateSigningKey();
  const dir = tempDir("expired");
  const expiredAt = Math.floor(Date.now() / 1000) - 60;
  const file = join(dir, "license.jwt");
  writeFileSync(file, await mintLease(vendor, { sub: "lic-old", exp: expiredAt, iat: expiredAt - 86400 }));
  const proxy = await start({ STATE_DIR: join(dir, "state"), LICENSE_FILE: file, LICENSE_PUBLIC_KEY: vendor.publicPem });
  const denied = await authorize(proxy.port);
  expect(denied.status).toBe(403);
  expect(denied.body).toMatchObject({ code: "LICENSE_EXPIRED" });
  expect(denied.body.message).toContain(`expired at ${new Date(expiredAt * 1000).toISOString()}`);
  expect((await health(proxy.port)).body).toMatchObject({ mode: "offline", license_valid: false, problem: { code: "LICENSE_EXPIRED" } });
  expect(verifyCli(file, vendor.publicPem)).toMatchObject({ code: 1, stderr: expect.stringContaining("(EXPIRED)") });
});

test("a tampered lease from the license server is refused; the persisted good lease stays in force", async () => {
  const upstream = new FakeUpstream();
  await upstream.start();
  try {
    const dir = tempDir("renew-tampered");
    const good = await mintLease(upstream.key, { sub: "lic-good", exp: exp() });
    writeFileSync(join(dir, "lease.jwt"), good);
    upstream.faults.leaseOverride = tamper(await mintLease(upstream.key, { sub: "lic-good", exp: exp() }));
    const proxy = await start({ STATE_DIR: dir, LICENSE_SERVER_URL: upstream.url, LICENSE_KEY: upstream.licenseKey, LICENSE_PUBLIC_KEY: upstream.key.publicPem });
    const h = await waitFor("the renewal to fail", async () => {
      const r = await health(proxy.port);
      return r.body.last_renewal_error ? r.body : undefined;
    });
    expect(h.last_renewal_error).toMatch(/unusable lease: the signature does not match the content/);
    expect(h).toMatchObject({ license_valid: true, license_id: "lic-good" });
    expect((await authorize(proxy.port)).status).toBe(200);
    expect(readFileSync(join(dir, "lease.jwt"), "utf8")).toBe(good);
  } finally {
    await upstream.stop();
  }
});

test("a corrupted spool: torn last record and a damaged line are dropped with warnings, the rest recovered and delivered", async () => {
  const upstream = new FakeUpstream();
  await upstream.start();
  try {
    upstream.faults.down = true;
    const dir = tempDir("torn");
    mkdirSync(dir, { recursive: true });
    const good = Array.from({ length: 8 }, () => usageRecord());
    const frames = good.map(encodeFrame);
    const damaged = encodeFrame(usageRecord()).replace(/"model":"/, '"model":"X');
    const torn = encodeFrame(usageRecord()).slice(0, 40);
    writeFileSync(join(dir, "usage.spool"), frames.slice(0, 5).join("") + damaged + frames.slice(5).join("") + torn);
    const env = { STATE_DIR: dir, LICENSE_SERVER_URL: upstream.url, LICENSE_KEY: upstream.licenseKey, LICENSE_PUBLIC_KEY: upstream.key.publicPem, USAGE_UPLOAD_INTERVAL_SECONDS: "0.2", USAGE_RETRY_MAX_SECONDS: "1" };
    let proxy = await start(env);
    expect((await health(proxy.port)).body.spool_depth).toBe(8);
    expect(proxy.logs.find((l) => l.msg.startsWith("torn last line"))).toMatchObject({ level: "warn", dropped_bytes: 40 });
    expect(proxy.logs.find((l) => l.msg.startsWith("damaged lines"))).toMatchObject({ level: "warn", lines: 1 });

    // New appends land on clean lines after the cut; a restart finds no torn tail any more.
    const more = [usageRecord(), usageRecord()];
    expect((await call(proxy.port, "POST", "/v1/usage", { records: more })).status).toBe(202);
    await proxy.kill();
    proxy = await start(env);
    expect((await health(proxy.port)).body.spool_depth).toBe(10);
    expect(proxy.logs.some((l) => l.msg.startsWith("torn last line"))).toBe(false);

    upstream.faults.down = false;
    await waitFor("delivery", () => upstream.records.size === 10);
    expect(new Set(upstream.records.keys())).toEqual(new Set([...good, ...more].map((r) => r.id)));
  } finally {
    await upstream.stop();
  }
});

test("bad configuration stops start-up with a clear message and never prints the license key; one proxy per STATE_DIR", async () => {
  const vendor = generateSigningKey();
  const secret = "lk_do_not_print_me";
  const base = { STATE_DIR: tempDir("cfg"), LICENSE_SERVER_URL: DEAD_URL, LICENSE_KEY: secret, LICENSE_PUBLIC_KEY: vendor.publicPem };
  const cases: [Record<string, string>, RegExp][] = [
    [{ ...base, PORT: "http" }, /PORT: /],
    [{ ...base, LICENSE_SERVER_URL: "ftp://vendor.example" }, /LICENSE_SERVER_URL must use http or https/],
    [{ ...base, LICENSE_FILE: "/x/license.jwt" }, /not both/],
    [{ ...base, LICENSE_KEY: "" }, /online mode needs LICENSE_KEY or LICENSE_KEY_FILE/],
    [{ ...base, LICENSE_PUBLIC_KEY: JSON.stringify(vendor.privateKey.export({ format: "jwk" })) }, /private key/],
    [{ ...base, LICENSE_PUBLIC_KEY: "hello" }, /LICENSE_PUBLIC_KEY: not a usable public key/],
    [{ ...base, LICENSE_GRACE_SECONDS: "-5" }, /LICENSE_GRACE_SECONDS must be at least 0/],
    [{ ...base, USAGE_BATCH_SIZE: "5000" }, /USAGE_BATCH_SIZE must be 1-1000/],
    [{ ...base, LICENSE_KEY: "", LICENSE_KEY_FILE: "/nonexistent/key" }, /LICENSE_KEY_FILE: cannot read \/nonexistent\/key: ENOENT/],
  ];
  for (const [env, message] of cases) {
    const p = await start(env, { expectExit: true });
    expect(await p.exited()).toBe(2);
    expect(p.stderr).toMatch(message);
    expect(p.stderr + JSON.stringify(p.logs)).not.toContain(secret);
  }

  const first = await start(base);
  const second = await start(base, { expectExit: true });
  expect(await second.exited()).toBe(1);
  expect(second.stderr).toContain(`another license proxy (pid ${first.child.pid}) owns this STATE_DIR`);
  expect((await health(first.port)).status).toBe(200);
});

test("malformed requests get a 4xx JSON error with a code, truncated bodies included; the proxy keeps serving", async () => {
  const vendor = generateSigningKey();
  const dir = tempDir("malformed");
  const file = join(dir, "license.jwt");
  writeFileSync(file, await mintLease(vendor, { sub: "lic-ok", exp: exp() }));
  const stateDir = join(dir, "state");
  const proxy = await start({ STATE_DIR: stateDir, LICENSE_FILE: file, LICENSE_PUBLIC_KEY: vendor.publicPem });
  const tcp = { port: proxy.port };
  const cases: [string, string, string, number, string][] = [
    ["POST", "/v1/usage", "{not json", 400, "invalid_json"],
    ["POST", "/v1/usage", "", 400, "invalid_json"],
    ["POST", "/v1/usage", "[]", 400, "invalid_json"],
    ["POST", "/v1/usage", JSON.stringify({ records: [{ id: 1 }] }), 400, "invalid_request"],
    ["POST", "/v1/authorize", "null", 400, "invalid_json"],
    ["POST", "/v1/usage", JSON.stringify({ records: [], pad: "x".repeat(3 * 1024 * 1024) }), 413, "body_too_large"],
    ["GET", "/nowhere", "", 404, "not_found"],
  ];
  for (const [method, path, body, status, code] of cases) {
    expect({ path, sent: body.slice(0, 20), ...(await callRaw(tcp, method, path, body)) }).toMatchObject({ status, body: { error: { code, message: expect.any(String) } } });
  }
  // The admin socket takes the same care: a JSON null is a 400, not a 500.
  const admin = { socketPath: join(stateDir, "admin.sock") };
  expect(await callRaw(admin, "POST", "/v1/export", "null")).toMatchObject({ status: 400, body: { error: { code: "invalid_json" } } });
  expect(await callRaw(admin, "POST", "/v1/export", JSON.stringify({ out: "relative.json" }))).toMatchObject({ status: 400, body: { error: { code: "invalid_request", message: '"out" must be an absolute path' } } });
  // A body cut off mid-way: the client gives up, the proxy frees it and answers the next request.
  await writeThenDisconnect(proxy.port, "POST /v1/usage HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"records\": [", 100, "close");
  expect((await authorize(proxy.port)).status).toBe(200);
  expect((await health(proxy.port)).body).toMatchObject({ status: "ok", license_valid: true });
  expect(proxy.logs.filter((l) => l.level === "error")).toEqual([]);
  expect(proxy.child.exitCode).toBeNull();
});
