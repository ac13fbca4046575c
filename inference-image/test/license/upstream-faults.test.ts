/**
 * The uploader against an unreliable license server (real proxy process, real HTTP): 500s,
 * answers slower than the proxy's timeout, and partial acceptance. Nothing is lost, the proxy backs
 * off between failures, and it never re-sends a record whose acceptance it cleanly received.
 * Also pins the exact usage record shape the proxy stores and uploads.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { proxyHarness } from "./harness";
import { call, health, ProxyProcess, tempDir, usageRecord, waitFor } from "./helpers";

jest.setTimeout(180_000);

const lp = proxyHarness({ upstream: true });

async function start(dir: string, extra: Record<string, string> = {}): Promise<ProxyProcess> {
  return lp.start({
    STATE_DIR: dir,
    LICENSE_SERVER_URL: lp.upstream.url,
    LICENSE_KEY: lp.upstream.licenseKey,
    LICENSE_PUBLIC_KEY: lp.upstream.key.publicPem,
    USAGE_UPLOAD_INTERVAL_SECONDS: "0.2",
    USAGE_RETRY_MAX_SECONDS: "2",
    UPSTREAM_TIMEOUT_SECONDS: "0.5",
    ...extra,
  });
}

test("500s, timeouts and partial acceptance: backoff between failures, nothing lost, no duplicate after a clean ack", async () => {
  lp.upstream.faults.usage500s = 3;
  lp.upstream.faults.usageSlow = 2;
  lp.upstream.faults.slowMs = 2000;
  lp.upstream.faults.acceptAtMost = 350;
  const dir = tempDir("faults");
  const records = Array.from({ length: 3000 }, () => usageRecord());
  const proxy = await start(dir, { USAGE_BATCH_SIZE: "1000" });
  for (let i = 0; i < records.length; i += 1000) {
    expect((await call(proxy.port, "POST", "/v1/usage", { records: records.slice(i, i + 1000) })).status).toBe(202);
  }
  await waitFor("every record upstream", () => lp.upstream.records.size === records.length, 120_000);
  await waitFor("an empty spool", async () => (await health(proxy.port)).body.spool_depth === 0 || undefined);

  const sent = new Set(records.map((r) => r.id));
  for (const id of lp.upstream.records.keys()) expect(sent.has(id)).toBe(true);
  expect(lp.upstream.duplicatesAfterCleanAck).toBe(0);
  // Only answers the proxy never received (timeouts) can explain a re-sent record.
  const slowIds = lp.upstream.usageLog.filter((u) => u.outcome === "slow").reduce((n, u) => n + Math.min(u.ids.length, 350), 0);
  expect(lp.upstream.duplicateUploads).toBeLessThanOrEqual(slowIds);
  for (const batch of lp.upstream.usageLog) expect(batch.ids.length).toBeLessThanOrEqual(1000);

  // Backoff: the five failures in a row (3 x 500, 2 x timeout) are spaced by a growing, jittered delay (>= half the window: 0.5 s, 1 s, 1 s, 1 s).
  const failures = lp.upstream.usageLog.filter((u) => u.outcome !== "accepted").slice(0, 5);
  expect(failures.map((f) => f.outcome)).toEqual(["500", "500", "500", "slow", "slow"]);
  const gaps = failures.slice(1).map((f, i) => f.at - failures[i].at);
  expect(gaps[0]).toBeGreaterThanOrEqual(450);
  for (const g of gaps.slice(1)) expect(g).toBeGreaterThanOrEqual(950);

  const metrics = (await call(proxy.port, "GET", "/metrics")).body as string;
  const failuresMetric = Number(/^license_proxy_usage_upload_failures_total (\d+)/m.exec(metrics)?.[1]);
  expect(failuresMetric).toBeGreaterThanOrEqual(5);
  expect(metrics).toMatch(/^license_proxy_spool_depth 0$/m);
  expect(metrics).toMatch(/^license_proxy_usage_records_accepted_total 3000$/m);
});

test("the usage record shape: exactly these keys are stored and uploaded, and anything else is refused", async () => {
  const keys = ["audio_seconds", "characters", "features", "id", "model", "status_code", "timestamp"];
  lp.upstream.faults.down = true;
  const dir = tempDir("shape");
  const proxy = await start(dir);
  const record = usageRecord({ features: ["stt", "diarize"], audio_seconds: 12.5, characters: 180, status_code: 200 });
  expect((await call(proxy.port, "POST", "/v1/usage", { records: [record] })).status).toBe(202);

  const stored = readFileSync(join(dir, "usage.spool"), "utf8").trim().split("\n");
  expect(stored).toHaveLength(1);
  const storedRecord = JSON.parse(stored[0].slice(9));
  expect(Object.keys(storedRecord).sort()).toEqual(keys);
  expect(storedRecord).toEqual(record);

  for (const extra of [{ text: "hello" }, { transcript: "hello" }, { audio: "UklGRg==" }, { api_key: "k" }, { caller: "10.0.0.1" }]) {
    const r = await call(proxy.port, "POST", "/v1/usage", { records: [{ ...usageRecord(), ...extra }] });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/Unrecognized key/);
  }
  const missing: Record<string, unknown> = { ...usageRecord() };
  delete missing.audio_seconds;
  expect((await call(proxy.port, "POST", "/v1/usage", { records: [missing] })).status).toBe(400);

  lp.upstream.faults.down = false;
  await waitFor("the upload", () => lp.upstream.rawBatches.length > 0);
  const uploaded = lp.upstream.rawBatches[0] as { records: Record<string, unknown>[] };
  expect(Object.keys(uploaded)).toEqual(["records"]);
  expect(uploaded.records).toHaveLength(1);
  expect(Object.keys(uploaded.records[0]).sort()).toEqual(keys);
  expect(uploaded.records[0]).toEqual(record);
});
