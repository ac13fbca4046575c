/**
 * No completed request's usage is lost: the built server (WORKERS=1, a usage write-ahead dir) in front
 * of the real license proxy and the fake upstream. Clients send speech requests; each finished 200
 * carries its request id, which is also its usage record's id, so losses are counted at the upstream
 * by id. Faults: 5 server SIGKILLs with the proxy up, 5 during a proxy outage, and a SIGTERM during an
 * outage that ends within the shutdown grace.
 */
import { join } from "node:path";
import { proxyHarness } from "../license/harness";
import { freePort, type ProxyProcess, tempDir, waitFor } from "../license/helpers";
import { buildServer, KEY, startServer } from "./helpers";

jest.setTimeout(180_000);

// First, so its hooks run first: each test's fake upstream is up before the proxy starts (beforeEach);
// the proxies it started are killed after each test, and sockets and scratch folders go after all.
const h = proxyHarness({ upstream: true });
let proxyPort: number;
let proxy: ProxyProcess | undefined;
let stateDir: string;
let walDir: string;
/** The servers a test started (the harness kills the proxies). */
const started: ProxyProcess[] = [];

async function proxyUp(): Promise<void> {
  const upstream = h.upstream;
  proxy = await h.start({
    PORT: String(proxyPort),
    STATE_DIR: stateDir,
    LICENSE_SERVER_URL: upstream.url,
    LICENSE_KEY: upstream.licenseKey,
    LICENSE_PUBLIC_KEY: upstream.key.publicPem,
    USAGE_UPLOAD_INTERVAL_SECONDS: "0.2",
    USAGE_RETRY_MAX_SECONDS: "1",
  });
}

async function proxyDown(): Promise<void> {
  await proxy?.kill("SIGKILL");
  proxy = undefined;
}

async function serverUp(graceMs = 8000): Promise<ProxyProcess> {
  const s = await startServer({ LICENSE_PROXY_URL: `http://127.0.0.1:${proxyPort}`, USAGE_WAL_DIR: walDir, SHUTDOWN_GRACE_MS: String(graceMs) });
  started.push(s);
  await waitFor("the server to be ready", async () => (await fetch(`${s.base}/health/ready`)).status === 200, 20_000);
  return s;
}

/**
 * 8 clients in a loop of short syntheses; returns the ids of the requests that completed (200, body read).
 * Faults land after a number of completions, not after a fixed time: how many requests fit in a second depends
 * on the machine's load, and a kill before the first completion would test nothing.
 */
function traffic(server: ProxyProcess) {
  const completed: string[] = [];
  let stop = false;
  const client = async () => {
    while (!stop) {
      try {
        const res = await fetch(`${server.base}/v1/speak`, { method: "POST", headers: { authorization: `Token ${KEY}`, "content-type": "application/json" }, body: JSON.stringify({ text: "count me" }) });
        await res.arrayBuffer();
        if (res.status === 200) completed.push(res.headers.get("dg-request-id") ?? "missing");
      } catch {
        if (!server.alive) return;
      }
    }
  };
  const clients = Promise.all(Array.from({ length: 8 }, client));
  return {
    completed,
    async stopAfter(completions: number, then: () => Promise<unknown>) {
      await waitFor(`${completions} completed requests`, () => completed.length >= completions, 60_000, 10);
      await then();
      stop = true;
      await clients;
    },
  };
}

async function expectAllArrive(ids: string[]): Promise<void> {
  const upstream = h.upstream;
  await waitFor("every completed request's record at the upstream", () => ids.every((id) => upstream.records.has(id)), 30_000).catch(() => undefined);
  const missing = ids.filter((id) => !upstream.records.has(id));
  expect({ completed: ids.length, missing: missing.length }).toEqual({ completed: ids.length, missing: 0 });
}

beforeAll(async () => {
  buildServer();
  proxyPort = await freePort();
});

beforeEach(async () => {
  const dir = tempDir("fault-usage");
  stateDir = join(dir, "proxy");
  walDir = join(dir, "wal");
  await proxyUp();
});

afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.kill("SIGKILL")));
});

it("loses no completed request's record over 5 server SIGKILLs with the proxy up", async () => {
  const ids: string[] = [];
  for (let k = 0; k < 5; k++) {
    const server = await serverUp();
    const t = traffic(server);
    await t.stopAfter(2 + k, () => server.kill("SIGKILL"));
    expect(t.completed.length).toBeGreaterThan(0);
    ids.push(...t.completed);
  }
  // The next start replays what the killed ones had written ahead.
  await serverUp();
  await expectAllArrive(ids);
});

it("loses no completed request's record over 5 server SIGKILLs during a proxy outage", async () => {
  const ids: string[] = [];
  for (let k = 0; k < 5; k++) {
    if (!proxy) await proxyUp();
    const server = await serverUp();
    await proxyDown();
    const t = traffic(server);
    await t.stopAfter(2 + k, () => server.kill("SIGKILL"));
    expect(t.completed.length).toBeGreaterThan(0);
    ids.push(...t.completed);
  }
  await proxyUp();
  await serverUp();
  await expectAllArrive(ids);
});

it("loses none on a graceful stop during a proxy outage: it keeps retrying within the grace", async () => {
  const server = await serverUp();
  await proxyDown();
  const t = traffic(server);
  await t.stopAfter(4, async () => server.child.kill("SIGTERM"));
  expect(t.completed.length).toBeGreaterThan(0);
  // The outage lasts into the stop: the proxy comes back once the stopping server has failed an upload.
  await waitFor("an upload the stopping server failed", () => {
    const stopAt = server.logs.findIndex((l) => l.msg === "shutting down: finishing in-flight work");
    return stopAt >= 0 && server.logs.slice(stopAt).some((l) => l.msg === "usage upload failed; will retry");
  }, 20_000, 20);
  await proxyUp();
  expect(await server.exited()).toBe(0);
  // Delivered by the stopping server itself, not by a later start.
  await expectAllArrive(t.completed);
});

it("keeps what a graceful stop could not deliver (an outage longer than the grace) for the next start", async () => {
  const server = await serverUp(1500);
  await proxyDown();
  const t = traffic(server);
  await t.stopAfter(3, async () => server.child.kill("SIGTERM"));
  expect(t.completed.length).toBeGreaterThan(0);
  expect(await server.exited()).toBe(0);
  expect(server.logs.some((l) => l.msg === "usage records left in the write-ahead file for the next start")).toBe(true);
  await proxyUp();
  await serverUp();
  await expectAllArrive(t.completed);
});
