/**
 * `npm run review -- [env…] [--baseline <cdktf.out dir> | --baseline-ref <git ref>] [--out <dir>]`
 *
 * Synthesizes the environments (no credentials, no Terraform binary, no network) and writes, per
 * stack, `<out>/<stack>.md` for a pull request and `<out>/<stack>.json` for machines: resources with
 * their security-relevant settings, policy results and acknowledgements, the diff against a
 * baseline, a cost estimate and a topology diagram. Exits 1 when a stack has policy violations
 * (after writing the reports), 2 on bad arguments.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { TerraformStack } from "cdktf";
import { EnvironmentConfig, loadEnvironments } from "../app";
import { checkStack, JsonObject, StackView } from "../constructs/policy";
import { diffStacks, estimateCost, groupResources, modelsOf, renderMarkdown, StackReport, topologyDiagram } from "./report";
import { buildApp } from "../main";
import { offlineFindings } from "./preflight/offline";

export interface ReviewOptions {
  readonly environments: string[];
  readonly baseline?: string;
  readonly baselineRef?: string;
  readonly out: string;
  /** Where environment files live; default ENVIRONMENTS_DIR or environments/. */
  readonly environmentsDir?: string;
}

export interface ReviewResult {
  readonly reports: StackReport[];
  readonly files: string[];
}

export class UsageError extends Error {}

export function parseArgs(argv: string[]): ReviewOptions {
  const environments: string[] = [];
  let baseline: string | undefined;
  let baselineRef: string | undefined;
  let out = "reports";
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) throw new UsageError(`${arg} expects a value`);
      return v;
    };
    if (arg === "--baseline") baseline = value();
    else if (arg === "--baseline-ref") baselineRef = value();
    else if (arg === "--out") out = value();
    else if (arg.startsWith("--")) throw new UsageError(`unknown option ${arg}; expected --baseline, --baseline-ref or --out`);
    else environments.push(arg);
  }
  if (baseline && baselineRef) throw new UsageError("give either --baseline or --baseline-ref, not both");
  return { environments, baseline, baselineRef, out };
}

/** The environments named (all when none), or a clear error naming the known ones. */
function select(all: EnvironmentConfig[], names: string[]): EnvironmentConfig[] {
  const unknown = names.filter((n) => !all.some((e) => e.name === n));
  if (unknown.length) throw new UsageError(`unknown environment(s) ${unknown.join(", ")}; known: ${all.map((e) => e.name).join(", ")}`);
  return names.length ? all.filter((e) => names.includes(e.name)) : all;
}

/**
 * Synthesizes `ref` with its own code: checks it out in a temporary git worktree (sharing this
 * checkout's node_modules), compiles it and runs its synth. Returns the cdktf.out directory.
 */
export function synthesizeRef(ref: string, scratch: string): string {
  const root = execFileSync("git", ["rev-parse", "--show-toplevel"], { encoding: "utf8" }).trim();
  const tree = path.join(scratch, "baseline-tree");
  const outdir = path.join(scratch, "baseline-cdktf.out");
  try {
    execFileSync("git", ["worktree", "add", "--detach", tree, ref], { cwd: root, stdio: "pipe" });
  } catch (err) {
    throw new UsageError(`--baseline-ref ${ref}: git cannot check it out: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`);
  }
  try {
    fs.symlinkSync(path.join(root, "node_modules"), path.join(tree, "node_modules"), "dir");
    const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc");
    try {
      execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: tree, stdio: "pipe" });
    } catch (err) {
      // tsc still emits on type errors; an old commit with a type error can still show what it would have deployed.
      if (!fs.existsSync(path.join(tree, "dist", "main.js"))) throw err;
      console.warn(`--baseline-ref ${ref}: the ref has type errors; synthesizing from what tsc emitted:\n${String((err as { stdout?: Buffer }).stdout ?? "").trim()}`);
    }
    const entry = fs.existsSync(path.join(tree, "dist", "scripts", "synth.js")) ? "dist/scripts/synth.js" : "dist/main.js";
    execFileSync(process.execPath, [entry], {
      cwd: tree,
      stdio: "pipe",
      env: { ...process.env, CDKTF_OUTDIR: outdir, ENVIRONMENTS_DIR: path.join(tree, "environments"), CHECKPOINT_DISABLE: "1" },
    });
  } catch (err) {
    const e = err as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`--baseline-ref ${ref}: building or synthesizing it failed:\n${String(e.stderr ?? "")}${String(e.stdout ?? "")}`.trim());
  } finally {
    execFileSync("git", ["worktree", "remove", "--force", tree], { cwd: root, stdio: "pipe" });
  }
  return outdir;
}

function readStack(outdir: string, stack: string): JsonObject | undefined {
  const file = path.join(outdir, "stacks", stack, "cdk.tf.json");
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as JsonObject) : undefined;
}

export function review(options: ReviewOptions): ReviewResult {
  const all = loadEnvironments(path.resolve(options.environmentsDir ?? process.env.ENVIRONMENTS_DIR ?? "environments"));
  const environments = select(all, options.environments);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "voice-selfhost-review-"));
  try {
    let baselineDir = options.baseline && path.resolve(options.baseline);
    if (baselineDir && !fs.existsSync(path.join(baselineDir, "stacks"))) throw new UsageError(`--baseline ${options.baseline}: expected a cdktf.out directory (with stacks/), found none`);
    const baselineName = options.baselineRef ? `git ${options.baselineRef}` : options.baseline;
    if (options.baselineRef) baselineDir = synthesizeRef(options.baselineRef, scratch);

    const reports: StackReport[] = [];
    for (const env of environments) {
      const outdir = path.join(scratch, env.name);
      // Validation off: a review shows violations instead of stopping at the first stack that has them.
      const app = buildApp({ environments: [env], outdir, skipValidation: true });
      app.synth();
      const stacks = app.node.children.filter((c): c is TerraformStack => TerraformStack.isStack(c));
      const views = new Map(stacks.map((s) => [s, new StackView(s.node.id, readStack(outdir, s.node.id)!)]));
      const diagram = topologyDiagram(env.mode, [...views.values()]);
      const readiness = offlineFindings(env);
      for (const [stack, view] of views) {
        const { document } = view;
        reports.push({
          stack: stack.node.id,
          environment: env.name,
          mode: env.mode,
          region: view.region ?? env.region,
          resourceCount: view.resources.length,
          policy: checkStack(stack, view),
          readiness,
          diff: baselineDir ? { baseline: baselineName!, ...diffStacks(readStack(baselineDir, stack.node.id), document, stack.node.id) } : null,
          cost: estimateCost(view),
          models: modelsOf(view),
          diagram,
          resources: groupResources(view),
        });
      }
    }
    fs.mkdirSync(options.out, { recursive: true });
    const files = reports.flatMap((r) => {
      const base = path.join(options.out, r.stack);
      fs.writeFileSync(`${base}.json`, `${JSON.stringify(r, null, 2)}\n`);
      fs.writeFileSync(`${base}.md`, `${renderMarkdown(r)}\n`);
      return [`${base}.md`, `${base}.json`];
    });
    return { reports, files };
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const started = Date.now();
  try {
    const options = parseArgs(process.argv.slice(2));
    const { reports } = review(options);
    for (const r of reports) {
      const d = r.diff ? `, diff +${r.diff.added.length} -${r.diff.removed.length} ~${r.diff.changed.length}${r.diff.forgotten.length ? ` (${r.diff.forgotten.length} forgotten, kept)` : ""}${r.diff.statefulRisks.length ? ` (${r.diff.statefulRisks.length} stateful at risk)` : ""}` : "";
      const verdict = r.policy.violations.length ? `FAIL ${r.policy.violations.length} violation(s)` : "PASS";
      const toFix = r.readiness.filter((f) => f.severity === "error").length;
      console.log(`${r.stack}: ${verdict}, ${r.policy.acknowledged.length} acknowledged, ${toFix} readiness finding(s), est. $${r.cost.totalMin}-$${r.cost.totalMax}/month${d} -> ${path.join(options.out, `${r.stack}.md`)}`);
    }
    console.log(`wrote ${reports.length * 2} report files in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (reports.some((r) => r.policy.violations.length)) process.exit(1);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(err instanceof UsageError ? 2 : 1);
  }
}
