/**
 * Synth speed against a fixed yardstick, in one run: the median wall time of fresh processes that
 * (a) synthesize every environment with the compiled app, and (b) merely require the AWS provider
 * from its package root. The ratio a/b is what we track; it holds across machines of different speed.
 * Targets: under 0.5 for the whole app (issue 6, eight stacks: it fails the run), and the stricter 0.4
 * the infra-only app had (issue 3), reported alongside.
 *
 *   npm run build && node dist/bench/synth.js [runs]     (default 7 runs each, interleaved)
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** Required: the all-environment synth (eight stacks) under half the provider root's load time. */
const TARGET_RATIO = 0.5;
/** Reported too: the stricter target the infra stacks alone had. */
const STRETCH_RATIO = 0.4;
const root = path.resolve(__dirname, "..", "..");
const runs = Number(process.argv[2] ?? 7);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`runs: expected a positive integer, found ${process.argv[2]}`);
  process.exit(2);
}

function timeProcess(args: string[], env: NodeJS.ProcessEnv): number {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { cwd: root, env, encoding: "utf8" });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (result.status !== 0) throw new Error(`node ${args.join(" ")} exited ${result.status}:\n${result.stderr}`);
  return seconds;
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const synthJs = path.join(root, "dist", "scripts", "synth.js");
if (!fs.existsSync(synthJs)) {
  console.error(`${synthJs} is missing: run \`npm run build\` first`);
  process.exit(2);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "bench-synth-"));
try {
  const synthEnv = { ...process.env, CDKTF_OUTDIR: path.join(work, "cdktf.out"), CHECKPOINT_DISABLE: "1" };
  const synth: number[] = [];
  const requireRoot: number[] = [];
  // Interleaved, so drift in the machine's speed affects both sides alike; one unmeasured warm-up each.
  for (let i = -1; i < runs; i++) {
    const a = timeProcess([synthJs], synthEnv);
    const b = timeProcess(["-e", 'require("@cdktf/provider-aws")'], process.env);
    if (i >= 0) {
      synth.push(a);
      requireRoot.push(b);
    }
  }
  const stacks = fs.readdirSync(path.join(work, "cdktf.out", "stacks")).length;
  const a = median(synth);
  const b = median(requireRoot);
  const ratio = a / b;
  const fmt = (xs: number[]) => `median ${median(xs).toFixed(3)} s (min ${Math.min(...xs).toFixed(3)}, max ${Math.max(...xs).toFixed(3)})`;
  console.log(`runs: ${runs} each, interleaved, on ${os.cpus().length} CPU(s)`);
  console.log(`(a) synth ${stacks} stacks (node dist/scripts/synth.js): ${fmt(synth)}`);
  console.log(`(b) require("@cdktf/provider-aws") from the package root: ${fmt(requireRoot)}`);
  console.log(`ratio a/b: ${ratio.toFixed(3)} (target < ${TARGET_RATIO}: ${ratio < TARGET_RATIO ? "OK" : "OVER TARGET"}; stretch < ${STRETCH_RATIO}: ${ratio < STRETCH_RATIO ? "OK" : "over"})`);
  process.exitCode = ratio < TARGET_RATIO ? 0 : 1;
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
