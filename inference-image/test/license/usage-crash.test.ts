/**
 * Usage is never lost: a real proxy process is SIGKILLed while 10,000 usage records are being sent
 * to it. Every record it acknowledged must reach the fake upstream, by id, and nothing the client
 * never sent may appear. The fake upstream counts every upload of every id, so its own dedupe does
 * not hide duplicates the proxy sends.
 */
import type { UsageRecord } from "../../src/shared/license-protocol";
import { proxyHarness } from "./harness";
import { call, health, ProxyProcess, tempDir, usageRecord, waitFor } from "./helpers";

jest.setTimeout(240_000);

const lp = proxyHarness({ upstream: true });

const TOTAL = 10_000;
const PER_REQUEST = 5;

function envFor(dir: string): Record<string, string> {
  return {
    STATE_DIR: dir,
    LICENSE_SERVER_URL: lp.upstream.url,
    LICENSE_KEY: lp.upstream.licenseKey,
    LICENSE_PUBLIC_KEY: lp.upstream.key.publicPem,
    USAGE_UPLOAD_INTERVAL_SECONDS: "0.2",
    USAGE_RETRY_MAX_SECONDS: "1",
    LICENSE_RETRY_MAX_SECONDS: "1",
    UPSTREAM_TIMEOUT_SECONDS: "5",
  };
}

async function start(dir: string): Promise<ProxyProcess> {
  return lp.start(envFor(dir));
}

/**
 * Send records in small requests from 16 concurrent clients; SIGKILL the proxy once `killAfter` are
 * acknowledged. Returns the acknowledged ids and the records that were attempted.
 */
async function sendUntilKilled(proxy: ProxyProcess, records: UsageRecord[], killAfter: number) {
  const acked = new Set<string>();
  let next = 0;
  let killed = false;
  const worker = async () => {
    while (next < records.length) {
      const batch = records.slice(next, next + PER_REQUEST);
      next += PER_REQUEST;
      try {
        const r = await call(proxy.port, "POST", "/v1/usage", { records: batch });
        if (r.status !== 202) throw new Error(`usage answered ${r.status}: ${JSON.stringify(r.body)}`);
        for (const rec of batch) acked.add(rec.id);
      } catch (e) {
        if (killed) return;
        throw e;
      }
      if (!killed && acked.size >= killAfter) {
        killed = true;
        proxy.child.kill("SIGKILL");
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  await proxy.exited();
  return { acked, attempted: Math.min(next, records.length) };
}

/** What a well-behaved inference server does after the proxy comes back: resend what was not acknowledged. */
async function resend(port: number, records: UsageRecord[], acked: Set<string>): Promise<void> {
  const todo = records.filter((r) => !acked.has(r.id));
  for (let i = 0; i < todo.length; i += 500) {
    const r = await call(port, "POST", "/v1/usage", { records: todo.slice(i, i + 500) });
    expect(r.status).toBe(202);
  }
}

function expectDeliveredExactly(records: UsageRecord[]) {
  const sent = new Map(records.map((r) => [r.id, r]));
  expect(lp.upstream.records.size).toBe(records.length);
  for (const [id, rec] of lp.upstream.records) expect(rec).toEqual(sent.get(id));
}

test("SIGKILL mid-stream with the upstream down: after restart every acknowledged record is uploaded exactly once", async () => {
  lp.upstream.faults.down = true;
  const dir = tempDir("crash-down");
  const records = Array.from({ length: TOTAL }, () => usageRecord());
  const first = await start(dir);
  const { acked, attempted } = await sendUntilKilled(first, records, 4000);
  expect(acked.size).toBeGreaterThanOrEqual(4000);
  expect(acked.size).toBeLessThan(TOTAL);

  const second = await start(dir);
  const depth = (await health(second.port)).body.spool_depth as number;
  // Everything acknowledged survived; at most the requests in flight at the kill were also spooled.
  expect(depth).toBeGreaterThanOrEqual(acked.size);
  expect(depth).toBeLessThanOrEqual(attempted);

  await resend(second.port, records, acked);
  expect((await health(second.port)).body.spool_depth).toBe(TOTAL);
  lp.upstream.faults.down = false;
  await waitFor("all records upstream", () => lp.upstream.records.size === TOTAL, 120_000);
  await waitFor("an empty spool", async () => (await health(second.port)).body.spool_depth === 0 || undefined);

  expectDeliveredExactly(records);
  // The upstream was unreachable until every record was spooled, so no upload can have been lost in flight: exactly once, raw count.
  for (const id of acked) expect(lp.upstream.uploads.get(id)).toBe(1);
  expect(lp.upstream.duplicateUploads).toBe(0);

  // Settled records stay settled: the upload rounds that carry a new record, before and after another SIGKILL, carry
  // nothing old (the spool uploads oldest first, so a record left unsettled would go with or before the new one).
  const batches = lp.upstream.usageLog.length;
  const roundTrip = async (proxy: ProxyProcess) => {
    const probe = usageRecord();
    expect((await call(proxy.port, "POST", "/v1/usage", { records: [probe] })).status).toBe(202);
    await waitFor("the new record upstream", () => lp.upstream.records.has(probe.id));
    return probe.id;
  };
  const probes = [await roundTrip(second)];
  await second.kill("SIGKILL");
  const third = await start(dir);
  expect((await health(third.port)).body.spool_depth).toBe(0);
  probes.push(await roundTrip(third));
  expect(lp.upstream.usageLog.slice(batches).flatMap((batch) => batch.ids).filter((id) => !probes.includes(id))).toEqual([]);
  expect(lp.upstream.duplicateUploads).toBe(0);
});

test("SIGKILL mid-stream with the upstream up: acknowledged records all arrive, none invented, at most one batch re-sent", async () => {
  const dir = tempDir("crash-up");
  const records = Array.from({ length: TOTAL }, () => usageRecord());
  const first = await start(dir);
  const { acked } = await sendUntilKilled(first, records, 5000);

  const second = await start(dir);
  await resend(second.port, records, acked);
  await waitFor("all records upstream", () => lp.upstream.records.size === TOTAL, 120_000);
  await waitFor("an empty spool", async () => (await health(second.port)).body.spool_depth === 0 || undefined);

  expectDeliveredExactly(records);
  for (const id of acked) expect(lp.upstream.records.has(id)).toBe(true);
  // At-least-once: only a batch in flight at the kill (acked upstream, not yet marked) may be sent again.
  expect(lp.upstream.duplicateUploads).toBeLessThanOrEqual(1000);
  expect(lp.upstream.duplicatesAfterCleanAck).toBeLessThanOrEqual(1000);
});
