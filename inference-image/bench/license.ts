/**
 * License proxy figures, medians over several runs:
 *  1. what the license adds to an inference request: the server's ProxyLicense, started against a
 *     real proxy process, answers check() from its cached decision and buffers record() for a
 *     background upload; both are synchronous (no round trip can hide in them), timed per call;
 *     once in memory only, once with the usage write-ahead file (USAGE_WAL_DIR) on the local disk;
 *  2. authorize decisions per second and p50/p99 over HTTP keep-alive to the proxy (the background
 *     refresh's cost, not on the request path): one connection in a loop, and 32 concurrent ones;
 *  3. spool appends per second with fsync on: single-record appends from many concurrent callers
 *     (group commit), in-process, and through POST /v1/usage.
 *
 *   npm run bench:license -w inference-image [-- runs seconds]     (default 3 runs of 3 s)
 */
import { writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { join } from "node:path";
import { ProxyLicense } from "../src/server/license";
import { silentLogger } from "../src/shared/log";
import { Spool } from "../src/license-proxy/spool";
import { generateSigningKey, mintLease } from "../src/license-proxy/tools/mint";
import { buildProxy, cleanUp, ProxyProcess, tempDir, usageRecord } from "../test/license/helpers";

const runs = Number(process.argv[2] ?? 3);
const seconds = Number(process.argv[3] ?? 3);
if (!Number.isInteger(runs) || runs < 1 || !(seconds > 0)) {
  console.error("usage: license.js [runs >= 1] [seconds > 0]");
  process.exit(2);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

function post(agent: Agent, port: number, path: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Closed-loop load: `concurrency` clients each send, wait, send again, for `seconds`. */
async function load(port: number, path: string, body: () => string, concurrency: number, expectStatus: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  const end = Date.now() + seconds * 1000;
  const client = async () => {
    while (Date.now() < end) {
      const t0 = process.hrtime.bigint();
      const status = await post(agent, port, path, body());
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (status !== expectStatus) throw new Error(`${path} answered ${status}`);
    }
  };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: concurrency }, client));
  const elapsed = (Date.now() - t0) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { perSecond: latencies.length / elapsed, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) };
}

/** Per-request cost of the license hook in the server: check() then record(), as app.ts calls them. */
async function requestPathCost(port: number, walDir?: string): Promise<{ p50: number; p99: number; max: number; calls: number }> {
  const gate = new ProxyLicense({ url: `http://127.0.0.1:${port}`, models: { stt: "whisper-small", "stt-live": "whisper-small", tts: "flite" }, logger: silentLogger, walDir });
  await gate.start();
  const latencies: number[] = [];
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    for (let i = 0; i < 1000; i++) {
      const t0 = process.hrtime.bigint();
      gate.check("stt");
      gate.record({ model: "whisper-small", features: ["stt"], status_code: 200, audio_seconds: 5, characters: 0 });
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    // Let the background refresh and usage upload run, as they would between requests.
    await new Promise((resolve) => setImmediate(resolve));
  }
  await gate.close();
  latencies.sort((a, b) => a - b);
  return { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: latencies[latencies.length - 1], calls: latencies.length };
}

async function spoolAppends(concurrency: number): Promise<number> {
  const spool = await Spool.open(tempDir("bench-spool"), silentLogger);
  let n = 0;
  const end = Date.now() + seconds * 1000;
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        await spool.append([usageRecord()]);
        n++;
      }
    }),
  );
  const rate = n / ((Date.now() - t0) / 1000);
  await spool.close();
  return rate;
}

async function main() {
  const build = buildProxy();
  const vendor = generateSigningKey();
  const dir = tempDir("bench");
  const license = join(dir, "license.jwt");
  writeFileSync(license, await mintLease(vendor, { sub: "lic-bench", exp: Math.floor(Date.now() / 1000) + 86400 }));
  const proxy = await ProxyProcess.start(build, { STATE_DIR: join(dir, "state"), LICENSE_FILE: license, LICENSE_PUBLIC_KEY: vendor.publicPem });
  const authorizeBody = () => JSON.stringify({ feature: "stt", model: "whisper-small" });
  const usageBody = () => JSON.stringify({ records: [usageRecord()] });
  const rows: Record<string, number[]> = {};
  const add = (k: string, v: number) => (rows[k] ??= []).push(v);
  try {
    await load(proxy.port, "/v1/authorize", authorizeBody, 4, 200); // warm-up
    for (let r = 0; r < runs; r++) {
      const hook = await requestPathCost(proxy.port);
      add("request path: check() + record() p50 ms", hook.p50);
      add("request path: check() + record() p99 ms", hook.p99);
      add("request path: check() + record() max ms", hook.max);
      const wal = await requestPathCost(proxy.port, tempDir("bench-wal"));
      add("request path, write-ahead file: check() + record() p50 ms", wal.p50);
      add("request path, write-ahead file: check() + record() p99 ms", wal.p99);
      add("request path, write-ahead file: check() + record() max ms", wal.max);
      const one = await load(proxy.port, "/v1/authorize", authorizeBody, 1, 200);
      add("authorize, 1 connection: decisions/s", one.perSecond);
      add("authorize, 1 connection: p50 ms", one.p50);
      add("authorize, 1 connection: p99 ms", one.p99);
      const many = await load(proxy.port, "/v1/authorize", authorizeBody, 32, 200);
      add("authorize, 32 connections: decisions/s", many.perSecond);
      add("authorize, 32 connections: p99 ms", many.p99);
      for (const c of [1, 16, 64, 256]) add(`spool appends/s (fsync), ${c} concurrent, in-process`, await spoolAppends(c));
      const usage = await load(proxy.port, "/v1/usage", usageBody, 64, 202);
      add("POST /v1/usage, 1 record, 64 connections: records/s", usage.perSecond);
      add("POST /v1/usage, 64 connections: p99 ms", usage.p99);
    }
  } finally {
    await proxy.kill("SIGTERM");
    cleanUp();
  }
  console.log(`license proxy bench: median of ${runs} runs of ${seconds}s`);
  for (const [k, v] of Object.entries(rows)) console.log(`  ${k.padEnd(58)} ${median(v).toFixed(k.includes("ms") ? 3 : 0)}`);
}

main().catch((e: Error) => {
  console.error(e.stack ?? e.message);
  process.exit(1);
});
