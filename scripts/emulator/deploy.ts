/**
 * `npm run deploy:emulated -- <env>-infra [--work <dir>]`
 *
 * Deploys one infra stack for real, against an AWS emulator (moto, scripts/emulator/emulator.ts),
 * with the real AWS provider from the offline mirror: `npm run synth`, `terraform init` and `apply`,
 * a second `plan` that must show no changes, `npm run synth` again and a `plan` that must still show
 * no changes (the state survived the synth), the cross-stack references of `<env>-workloads` read
 * from that state, then `destroy`, after which the emulator must hold nothing the apply made. It
 * prints, per resource type, whether moto applied it as it is or needed a workaround (which), and
 * the wall time of each step.
 *
 * What it changes on the way, and only that: the provider's endpoints and credentials point at the
 * emulator (an override file); an S3 state backend is served by the emulator (init's backend config,
 * the bucket made first); a local state backend writes into the work folder instead of the
 * operator's terraform-state/ (the environment files are copied there with that one field set).
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runTerraformAsync, TerraformSetup, terraformSetup } from "../terraform";
import { Emulator, ensureRootfs, repoRoot, Workaround } from "./emulator";

const MINUTE_MS = 60_000;
const OVERRIDE_FILE = "zz_emulator_override.tf.json";
/** The AWS services the infra stacks call; the provider reaches every one at the emulator. */
const SERVICES = ["acm", "autoscaling", "ec2", "ecr", "eks", "elbv2", "iam", "kms", "logs", "s3", "sts"];
const CREDENTIALS = { access_key: "emulator", secret_key: "emulator" };

export interface EmulatedDeployOptions {
  /** An `<env>-infra` stack. */
  readonly stack: string;
  /** A folder of this run's own: synth output, environment copies, local state, backend config. */
  readonly work: string;
  readonly terraformFor: (awsProviderVersion: string | undefined) => TerraformSetup;
  readonly rootfs: string;
  readonly log: (line: string) => void;
}

export interface StepTime {
  readonly step: string;
  readonly seconds: number;
}

export interface CoverageRow {
  readonly resourceType: string;
  /** Resources of this type in the stack. */
  readonly declared: number;
  /** Of those, in the state after the apply. */
  readonly applied: number;
  /** The workarounds this type needed in this run; none means moto applied it as it is. */
  readonly workarounds: string[];
}

export interface EmulatedDeployResult {
  readonly stack: string;
  readonly backend: string;
  readonly steps: StepTime[];
  readonly coverage: CoverageRow[];
  readonly workarounds: Record<string, Workaround>;
  /** What the emulator still held after the destroy that it did not hold before the apply. */
  readonly leftovers: string[];
  /** Each cross-stack reference of `<env>-workloads`, as Terraform read it from this run's state. */
  readonly workloadsReferences: Record<string, unknown>;
  /** Certificates and state bucket the stack expects to exist: made in the emulator first. */
  readonly fixtures: string[];
}

interface StackJson {
  terraform: { backend?: Record<string, Record<string, unknown>>; required_providers?: Record<string, { version?: string }> };
  provider?: { aws?: Array<{ region?: string }> };
  resource?: Record<string, Record<string, unknown>>;
  data?: { terraform_remote_state?: Record<string, { backend: string; config: Record<string, unknown>; workspace?: string }> };
}

class StepError extends Error {}

export async function deployEmulated(options: EmulatedDeployOptions): Promise<EmulatedDeployResult> {
  const { stack, work, log } = options;
  if (!stack.endsWith("-infra")) throw new StepError(`expected an <env>-infra stack, got ${stack}`);
  const envName = stack.slice(0, -"-infra".length);
  const outdir = path.join(work, "cdktf.out");
  const stackDir = path.join(outdir, "stacks", stack);
  const steps: StepTime[] = [];
  const timed = async <T>(step: string, run: () => Promise<T>): Promise<T> => {
    const start = Date.now();
    log(`--- ${step}`);
    const result = await run();
    steps.push({ step, seconds: Math.round((Date.now() - start) / 100) / 10 });
    log(`--- ${step}: ${steps[steps.length - 1].seconds} s`);
    return result;
  };

  const environmentsDir = copyEnvironments(work);
  await timed("npm run synth", () => npmSynth(outdir, environmentsDir, log));
  if (!fs.existsSync(path.join(stackDir, "cdk.tf.json"))) {
    throw new StepError(`no stack ${stack} in the synth output; stacks: ${fs.readdirSync(path.join(outdir, "stacks")).join(", ")}`);
  }
  const config = readJson<StackJson>(path.join(stackDir, "cdk.tf.json"));
  const region = config.provider?.aws?.[0]?.region;
  if (!region) throw new StepError(`${stack} has no AWS provider region`);
  const terraform = options.terraformFor(config.terraform.required_providers?.aws?.version);
  const emulator = await Emulator.start({ rootfs: options.rootfs, accountId: accountOf(config), certificateArns: certificatesOf(config), log });
  try {
    const fixtures = certificatesOf(config).map((arn) => `certificate ${arn}`);
    const backend = await serveBackend(emulator, config, work, fixtures);
    const baseline = await emulator.inventory(region);
    const tf = async (step: string, args: string[], timeoutMs: number, allowed: number[] = [0]) =>
      timed(step, async () => {
        const result = await runTerraformAsync(terraform, stackDir, args, { timeoutMs, onLine: (line) => log(`  ${line}`) });
        if (result.status === null || !allowed.includes(result.status)) {
          throw new StepError(`${step} failed in ${stack} (exit ${result.status ?? `killed after ${timeoutMs / 1000} s`})`);
        }
        return result;
      });
    const noChanges = async (step: string) => {
      const { status } = await tf(step, ["plan", "-input=false", "-detailed-exitcode"], 10 * MINUTE_MS, [0, 2]);
      if (status === 2) throw new StepError(`${step}: the plan of ${stack} shows changes (printed above): the apply did not converge, or the state was lost`);
    };

    writeOverride(stackDir, emulator);
    await tf("terraform init", ["init", "-input=false", ...backend.initArgs], 5 * MINUTE_MS);
    await tf("terraform apply", ["apply", "-input=false", "-auto-approve"], 20 * MINUTE_MS);
    const applied = countByType((await tf("terraform state list", ["state", "list"], MINUTE_MS)).output);
    await noChanges("terraform plan after apply");
    if (backend.lockfile) await timed("state lock held elsewhere stops a plan", () => lockIsHonoured(emulator, backend.lockfile!, terraform, stackDir, log));
    // The README's main command: it replaces the synth output, .terraform and this override included.
    await timed("npm run synth (again)", () => npmSynth(outdir, environmentsDir, log));
    writeOverride(stackDir, emulator);
    await tf("terraform init (after synth)", ["init", "-input=false", ...backend.initArgs], 5 * MINUTE_MS);
    await noChanges("terraform plan after synth");
    const workloadsReferences = await timed(`${envName}-workloads references`, () =>
      readWorkloadsReferences(path.join(outdir, "stacks", `${envName}-workloads`), terraform, backend.remoteStateSettings, log),
    );
    await tf("terraform destroy", ["destroy", "-input=false", "-auto-approve"], 20 * MINUTE_MS);
    const before = new Set(baseline);
    const leftovers = (await emulator.inventory(region)).filter((item) => !before.has(item));
    const workarounds = await emulator.workarounds();
    const coverage = coverageOf(config, applied, workarounds);
    return { stack, backend: backend.description, steps, coverage, workarounds, leftovers, workloadsReferences, fixtures };
  } finally {
    await emulator.stop();
  }
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, "utf8")) as T;
}

/**
 * The environment files, copied into the work folder: a local state backend gets the work folder's
 * terraform-state/ as its path, so an emulated run never reads or writes the operator's state.
 */
function copyEnvironments(work: string): string {
  const source = path.resolve(repoRoot(), process.env.ENVIRONMENTS_DIR ?? "environments");
  const target = path.join(work, "environments");
  fs.mkdirSync(target, { recursive: true });
  for (const file of fs.readdirSync(source).filter((f) => f.endsWith(".json"))) {
    const env = readJson<{ stateBackend?: { type: string; path?: string } }>(path.join(source, file));
    if (!env.stateBackend || env.stateBackend.type === "local") env.stateBackend = { type: "local", path: path.join(work, "terraform-state") };
    fs.writeFileSync(path.join(target, file), `${JSON.stringify(env, null, 2)}\n`);
  }
  return target;
}

/** Runs of one process take turns at `npm run synth`: each rebuilds dist/, which the other would be loading. */
let synthTurn: Promise<unknown> = Promise.resolve();

function npmSynth(outdir: string, environmentsDir: string, log: (line: string) => void): Promise<void> {
  const run = synthTurn.then(() => spawnSynth(outdir, environmentsDir, log));
  synthTurn = run.catch(() => undefined);
  return run;
}

function spawnSynth(outdir: string, environmentsDir: string, log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("npm", ["run", "synth"], {
      cwd: repoRoot(),
      env: { ...process.env, CDKTF_OUTDIR: outdir, ENVIRONMENTS_DIR: environmentsDir, CHECKPOINT_DISABLE: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const take = (chunk: Buffer) => (output += chunk.toString("utf8"));
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("error", reject);
    child.on("close", (status) => {
      for (const line of output.trimEnd().split("\n")) log(`  ${line}`);
      if (status === 0) resolve();
      else reject(new StepError(`npm run synth failed (exit ${status})`));
    });
  });
}

/** The one account the stack's own ARNs name (the certificate, the admin role), else moto's default. */
export function accountOf(config: StackJson): string {
  const accounts = new Set([...JSON.stringify(config).matchAll(/arn:aws[\w-]*:[\w-]+:[\w-]*:(\d{12}):/g)].map((m) => m[1]));
  if (accounts.size > 1) throw new StepError(`the stack names ARNs of several accounts (${[...accounts].join(", ")}): the emulator serves one`);
  return [...accounts][0] ?? "123456789012";
}

export function certificatesOf(config: StackJson): string[] {
  return [...new Set([...JSON.stringify(config).matchAll(/arn:aws[\w-]*:acm:[\w-]+:\d{12}:certificate\/[\w-]+/g)].map((m) => m[0]))];
}

interface ServedBackend {
  readonly description: string;
  readonly initArgs: string[];
  /** What an S3 remote-state read needs to reach the emulator; undefined for local state. */
  readonly remoteStateSettings?: Record<string, unknown>;
  /** Where an S3 lockfile of this state lives (use_lockfile); undefined otherwise. */
  readonly lockfile?: { readonly bucket: string; readonly key: string; readonly region: string };
}

/** An S3 state backend is served by the emulator: its bucket is made there, and init points the backend at it. */
async function serveBackend(emulator: Emulator, config: StackJson, work: string, fixtures: string[]): Promise<ServedBackend> {
  const [type, settings] = Object.entries(config.terraform.backend ?? { local: {} })[0];
  if (type === "local") return { description: `local (${String(settings.path)})`, initArgs: [] };
  if (type !== "s3") throw new StepError(`state backend ${type}: the emulator serves local and s3 backends only`);
  const bucket = String(settings.bucket);
  await emulator.createBucket(bucket, String(settings.region));
  fixtures.push(`state bucket s3://${bucket}`);
  const remoteStateSettings = {
    endpoints: { s3: emulator.endpoint },
    use_path_style: true,
    skip_credentials_validation: true,
    skip_requesting_account_id: true,
    skip_metadata_api_check: true,
    ...CREDENTIALS,
  };
  const file = path.join(work, "emulator.s3.tfbackend");
  fs.writeFileSync(file, Object.entries(remoteStateSettings).map(([key, value]) => `${key} = ${hcl(value)}`).join("\n") + "\n");
  const lock = settings.use_lockfile ? "use_lockfile" : settings.dynamodb_table ? "dynamodb_table" : "no lock";
  const lockfile = settings.use_lockfile ? { bucket, key: `${String(settings.key)}.tflock`, region: String(settings.region) } : undefined;
  return { description: `s3 (s3://${bucket}/${String(settings.key)}, ${lock})`, initArgs: [`-backend-config=${file}`], remoteStateSettings, lockfile };
}

/**
 * The S3 lockfile really locks: with a lock object in place, as another operator's apply leaves it
 * (Terraform writes it with a conditional PUT, If-None-Match: *), a plan must refuse to start.
 */
async function lockIsHonoured(emulator: Emulator, lockfile: NonNullable<ServedBackend["lockfile"]>, terraform: TerraformSetup, stackDir: string, log: (line: string) => void): Promise<void> {
  const held = { ID: "00000000-0000-4000-8000-000000000000", Operation: "OperationTypeApply", Who: "another-operator@emulator", Version: "1.11.4", Created: new Date().toISOString(), Path: `${lockfile.bucket}/${lockfile.key}` };
  await emulator.putObject(lockfile.bucket, lockfile.key, lockfile.region, JSON.stringify(held));
  try {
    const result = await runTerraformAsync(terraform, stackDir, ["plan", "-input=false", "-lock-timeout=0s"], { timeoutMs: 5 * MINUTE_MS, onLine: (line) => log(`  ${line}`) });
    if (result.status === 0 || !result.output.includes("Error acquiring the state lock")) {
      throw new StepError(`a plan ran while s3://${lockfile.bucket}/${lockfile.key} held the state lock (exit ${result.status})`);
    }
  } finally {
    await emulator.deleteObject(lockfile.bucket, lockfile.key, lockfile.region);
  }
}

function hcl(value: unknown): string {
  if (value !== null && typeof value === "object") {
    return `{ ${Object.entries(value).map(([k, v]) => `${k} = ${hcl(v)}`).join(", ")} }`;
  }
  return JSON.stringify(value);
}

/** The provider, pointed at the emulator; everything else in the stack stays as synthesized. */
function writeOverride(stackDir: string, emulator: Emulator): void {
  const provider = {
    ...CREDENTIALS,
    skip_credentials_validation: true,
    skip_metadata_api_check: true,
    s3_use_path_style: true,
    // moto answers 500 to what it does not implement; the provider would retry each for minutes.
    max_retries: 2,
    endpoints: [Object.fromEntries(SERVICES.map((service) => [service, emulator.endpoint]))],
  };
  fs.writeFileSync(path.join(stackDir, OVERRIDE_FILE), JSON.stringify({ provider: { aws: provider } }, null, 2));
}

function countByType(stateList: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const address of stateList.split("\n").map((l) => l.trim()).filter((l) => /^[a-z]\w*\./.test(l) && !l.startsWith("data."))) {
    const type = address.split(".")[0];
    counts.set(type, (counts.get(type) ?? 0) + 1);
  }
  return counts;
}

export function coverageOf(config: StackJson, applied: Map<string, number>, workarounds: Record<string, Workaround>): CoverageRow[] {
  return Object.entries(config.resource ?? {})
    .map(([resourceType, resources]) => ({
      resourceType,
      declared: Object.keys(resources).length,
      applied: applied.get(resourceType) ?? 0,
      workarounds: Object.entries(workarounds)
        .filter(([, w]) => w.uses > 0 && w.resourceTypes.includes(resourceType))
        .map(([name]) => name),
    }))
    .sort((a, b) => a.resourceType.localeCompare(b.resourceType));
}

/**
 * Every cross-stack reference of a workloads stack, read by real Terraform from the state the infra
 * apply wrote: a configuration holding only the stack's terraform_remote_state data sources and one
 * output per expression the stack uses, run in the stack's own folder (its cdk.tf.json set aside for
 * the time), so relative paths would resolve as they do for the stack. Needs only Terraform's
 * built-in provider. A reference that does not resolve fails the plan.
 */
async function readWorkloadsReferences(
  workloadsDir: string,
  terraform: TerraformSetup,
  s3Settings: Record<string, unknown> | undefined,
  log: (line: string) => void,
): Promise<Record<string, unknown>> {
  const stackFile = path.join(workloadsDir, "cdk.tf.json");
  const workloads = readJson<StackJson & Record<string, unknown>>(stackFile);
  const remoteStates = workloads.data?.terraform_remote_state ?? {};
  const expressions = new Set<string>();
  const collect = (value: unknown): void => {
    if (typeof value === "string" && value.includes("data.terraform_remote_state.")) expressions.add(value);
    else if (Array.isArray(value)) value.forEach(collect);
    else if (value !== null && typeof value === "object") Object.values(value).forEach(collect);
  };
  collect(Object.fromEntries(Object.entries(workloads).filter(([key]) => key !== "data")));
  if (expressions.size === 0) throw new StepError(`${workloadsDir}: no cross-stack reference to read`);
  const names = [...expressions].sort();
  const referencesConfig = {
    data: {
      terraform_remote_state: Object.fromEntries(
        Object.entries(remoteStates).map(([name, source]) => [name, { ...source, config: source.backend === "s3" ? { ...source.config, ...s3Settings } : source.config }]),
      ),
    },
    output: Object.fromEntries(names.map((expression, i) => [`reference_${i}`, { value: expression }])),
  };
  const aside = `${stackFile}.aside`;
  const configFile = path.join(workloadsDir, "emulator-references.tf.json");
  fs.renameSync(stackFile, aside);
  try {
    fs.writeFileSync(configFile, JSON.stringify(referencesConfig, null, 2));
    const run = async (args: string[]) => {
      const result = await runTerraformAsync(terraform, workloadsDir, args, { timeoutMs: 5 * MINUTE_MS, onLine: (line) => log(`  ${line}`) });
      if (result.status !== 0) throw new StepError(`terraform ${args[0]} of the ${path.basename(workloadsDir)} references failed (exit ${result.status})`);
      return result.output;
    };
    await run(["init", "-input=false", "-backend=false"]);
    await run(["plan", "-input=false", "-out=references.tfplan"]);
    const shown = await runTerraformAsync(terraform, workloadsDir, ["show", "-json", "references.tfplan"], { timeoutMs: MINUTE_MS });
    const plan = JSON.parse(shown.output) as { planned_values?: { outputs?: Record<string, { value?: unknown }> } };
    const values = Object.fromEntries(names.map((expression, i) => [expression, plan.planned_values?.outputs?.[`reference_${i}`]?.value]));
    const unresolved = Object.entries(values).filter(([, value]) => value === undefined || value === null || value === "");
    if (unresolved.length > 0) throw new StepError(`references of ${path.basename(workloadsDir)} with no value in the infra state:\n${unresolved.map(([e]) => `  ${e}`).join("\n")}`);
    return values;
  } finally {
    for (const leftover of [configFile, path.join(workloadsDir, "references.tfplan"), path.join(workloadsDir, ".terraform.lock.hcl")]) fs.rmSync(leftover, { force: true });
    fs.rmSync(path.join(workloadsDir, ".terraform"), { recursive: true, force: true });
    fs.renameSync(aside, stackFile);
  }
}

/** The run's report: the steps' wall times, then per resource type what moto applied as it is and what needed a workaround. */
export function formatReport(result: EmulatedDeployResult): string {
  const lines = [`${result.stack} against the AWS emulator (state: ${result.backend})`, "", "step | seconds", "--- | ---"];
  lines.push(...result.steps.map((s) => `${s.step} | ${s.seconds}`));
  lines.push("", "resource type | declared | applied | against moto", "--- | --- | --- | ---");
  for (const row of result.coverage) {
    const how = row.applied < row.declared ? `skipped ${row.declared - row.applied}` : row.workarounds.length ? `with workaround: ${row.workarounds.join(", ")}` : "as moto implements it";
    lines.push(`${row.resourceType} | ${row.declared} | ${row.applied} | ${how}`);
  }
  const used = Object.entries(result.workarounds).filter(([, w]) => w.uses > 0);
  lines.push("", "workarounds used (scripts/emulator/moto_extensions.py):", ...used.map(([name, w]) => `  ${name} (${w.uses} calls): ${w.why}`));
  lines.push("", "fixtures made in the emulator first:", ...result.fixtures.map((f) => `  ${f}`));
  lines.push("", `workloads references read from the state: ${Object.keys(result.workloadsReferences).length}`);
  lines.push(result.leftovers.length ? `left in the emulator after destroy:\n${result.leftovers.map((l) => `  ${l}`).join("\n")}` : "left in the emulator after destroy: nothing");
  return lines.join("\n");
}

/** Fails the run on what the emulated deploy must show: everything applied, nothing left after destroy. */
export function problemsOf(result: EmulatedDeployResult): string[] {
  return [
    ...result.coverage.filter((r) => r.applied !== r.declared).map((r) => `${r.resourceType}: ${r.applied} of ${r.declared} in the state after apply`),
    ...result.leftovers.map((l) => `left after destroy: ${l}`),
  ];
}

async function main(argv: string[]): Promise<number> {
  const [stack, ...rest] = argv;
  const workIndex = rest.indexOf("--work");
  if (!stack || stack.startsWith("-") || (rest.length > 0 && (workIndex !== 0 || rest.length !== 2))) {
    console.error("usage: npm run deploy:emulated -- <env>-infra [--work <dir>]");
    return 2;
  }
  const work = workIndex === 0 ? path.resolve(rest[1]) : fs.mkdtempSync(path.join(os.tmpdir(), `emulated-${stack}-`));
  fs.mkdirSync(work, { recursive: true });
  const log = (line: string) => console.log(line);
  const setups: TerraformSetup[] = [];
  try {
    const result = await deployEmulated({
      stack,
      work,
      rootfs: ensureRootfs(),
      terraformFor: (version) => {
        const setup = terraformSetup(version);
        if (typeof setup === "string") throw new StepError(setup);
        setups.push(setup);
        return setup;
      },
      log,
    });
    console.log(`\n${formatReport(result)}`);
    const problems = problemsOf(result);
    if (problems.length > 0) {
      console.error(`\nFAILED:\n${problems.join("\n")}`);
      return 1;
    }
    if (workIndex !== 0) fs.rmSync(work, { recursive: true, force: true });
    return 0;
  } catch (err) {
    console.error(`\nFAILED: ${err instanceof Error ? err.message : String(err)}\n(work folder kept: ${work})`);
    return 1;
  } finally {
    for (const setup of setups) fs.rmSync(setup.work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
