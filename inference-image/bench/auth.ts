/**
 * What authentication plus the team gate cost per request, with 1,000 keys across 100 teams (the
 * issue's target: <= 0.05 ms p99). Each request is timed alone: parse the Authorization header, hash
 * the key, look the digest up, check the scope, the concurrency and requests-per-minute limits, release.
 * Also timed, for comparison: a wrong key, and the linear scan (one timingSafeEqual per known key) that
 * a Map lookup replaces.
 *
 *   npm run bench:auth -w inference-image [-- requests]     (default 200000 per case)
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { ApiKeys, authenticate, parseKeysFile } from "../src/server/auth";
import type { Scope } from "../src/server/teams";

const requests = Number(process.argv[2] ?? 200_000);
if (!Number.isInteger(requests) || requests < 1000) {
  console.error("usage: auth.js [requests >= 1000]");
  process.exit(2);
}

const TEAMS = 100;
const KEYS_PER_TEAM = 10;
const SCOPES: Scope[] = ["stt", "stt-live", "tts"];
const sha = (key: string) => createHash("sha256").update(key).digest("hex");

const keys: string[] = [];
const doc = {
  teams: Array.from({ length: TEAMS }, (_, t) => ({
    name: `team-${t}`,
    keys: Array.from({ length: KEYS_PER_TEAM }, (_, k) => {
      const key = `vsh_${randomBytes(24).toString("base64url")}`;
      keys.push(key);
      return { id: `team-${t}-key-${k}`, sha256: sha(key) };
    }),
    // Limits high enough that every request passes, so each one runs every check to the end.
    limits: { concurrent: 10_000, requestsPerMinute: 100_000 },
  })),
};
const apiKeys = new ApiKeys(parseKeysFile(JSON.stringify(doc), "bench"));
const fakeRequest = (key: string) => ({ headers: { authorization: `Bearer ${key}` } }) as unknown as IncomingMessage;
const valid = keys.map(fakeRequest);
const wrong = Array.from({ length: 1000 }, () => fakeRequest(`vsh_${randomBytes(24).toString("base64url")}`));

function summarize(label: string, ns: Float64Array): string {
  const sorted = Float64Array.from(ns).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] / 1e6;
  return `${label.padEnd(44)} median ${at(0.5).toFixed(4)} ms  p95 ${at(0.95).toFixed(4)} ms  p99 ${at(0.99).toFixed(4)} ms  max ${(sorted[sorted.length - 1] / 1e6).toFixed(3)} ms`;
}

function time(run: (i: number) => void): Float64Array {
  for (let i = 0; i < 10_000; i++) run(i); // warm-up: let the JIT settle
  const out = new Float64Array(requests);
  for (let i = 0; i < requests; i++) {
    const t0 = process.hrtime.bigint();
    run(i);
    out[i] = Number(process.hrtime.bigint() - t0);
  }
  return out;
}

const admitted = time((i) => {
  const caller = authenticate(apiKeys, valid[(i * 7919) % valid.length], false);
  caller.team.admit(SCOPES[i % 3])();
});
const refused = time((i) => {
  try {
    authenticate(apiKeys, wrong[i % wrong.length], false);
  } catch {
    // the 401 is the expected outcome
  }
});
const digests = keys.map((k) => createHash("sha256").update(k).digest());
const linear = time((i) => {
  const d = createHash("sha256").update(keys[(i * 7919) % keys.length]).digest();
  let ok = false;
  for (const known of digests) ok = timingSafeEqual(known, d) || ok;
  if (!ok) throw new Error("unreachable");
});

// The per-call timer itself: what every figure above includes.
const empty = time(() => undefined);

console.log(`${TEAMS} teams x ${KEYS_PER_TEAM} keys = ${apiKeys.size} keys; ${requests} requests per case; node ${process.version}`);
console.log(summarize("authenticate + scope + limits + release", admitted));
console.log(summarize("wrong key (401)", refused));
console.log(summarize("reference: linear scan of 1,000 digests", linear));
console.log(summarize("timer overhead (empty call)", empty));
const p99 = Float64Array.from(admitted).sort()[Math.floor(0.99 * requests)] / 1e6;
console.log(`target p99 <= 0.05 ms: ${p99 <= 0.05 ? "met" : "NOT met"} (${p99.toFixed(4)} ms)`);
