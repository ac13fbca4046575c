/**
 * `npm run deploy:emulated -- <env>-infra [<env>-infra ...] [--work <dir>]`
 *
 * Deploys infra stacks for real, against an AWS emulator (moto, scripts/emulator/emulator.ts; one
 * emulator per stack), with the real AWS provider from the offline mirror. Per stack: `<env>-data`
 * (its key outlives the infra stack, and the workloads stack reads its state) and `<env>-infra` are
 * applied side by side (the infra stack reads nothing of the data stack), then a second `plan` that
 * must show no changes, then (once for all stacks) `npm run synth` and a `plan` that must still show
 * no changes (the state survived the synth), the cross-stack references of `<env>-workloads` read
 * from that state, and both destroys: the data stack's refused where `prevent_destroy` keeps the key
 * (deletionProtection), and the emulator must then hold nothing the applies made but that key. It
 * prints, per resource type, whether moto applied it as it is or needed a workaround (which), and
 * the wall time of each step.
 *
 * Several stacks run side by side: most of an apply is the provider waiting on its pollers, so they
 * overlap well even on 2 cores, and they share the two synths.
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
import { loadEnvironments } from "../../app";
import { buildApp } from "../../main";
import { runTerraformAsync, TerraformSetup, terraformSetup } from "../terraform";
import { Emulator, ensureRootfs, repoRoot, Workaround } from "./emulator";

const MINUTE_MS = 60_000;
const OVERRIDE_FILE = "zz_emulator_override.tf.json";
/** The AWS services the infra stacks call; the provider reaches every one at the emulator. */
const SERVICES = ["acm", "autoscaling", "ec2", "ecr", "eks", "elbv2", "iam", "kms", "logs", "s3", "sts"];
const CREDENTIALS = { access_key: "emulator", secret_key: "emulator" };
/** Terraform's refusal to destroy a resource under `lifecycle.prevent_destroy`. */
const PREVENT_DESTROY_ERROR = "Instance cannot be destroyed";

export interface EmulatedDeployOptions {
  /** `<env>-infra` stacks, deployed side by side. */
  readonly stacks: string[];
  /** A folder of this run's own: synth output, environment copies, local state, backend config. */
  readonly work: string;
  /** A Terraform setup per stack: inits running at once must not share a plugin cache (Terraform's is not safe for that). */
  readonly terraformFor: (awsProviderVersion: string | undefined) => TerraformSetup;
  readonly rootfs: string;
  readonly log: (line: string) => void;
}

export interface StepTime {
  readonly step: string;
  readonly seconds: number;
}

export interface CoverageRow {
  /** The stack that declares the resources (`<env>-data` or `<env>-infra`). */
  readonly stack: string;
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
  /** This stack's steps; the two synths are shared by every stack of the run and listed in each. */
  readonly steps: StepTime[];
  readonly coverage: CoverageRow[];
  readonly workarounds: Record<string, Workaround>;
  /** What the emulator still held after the infra destroy that it did not hold before the infra apply. */
  readonly leftovers: string[];
  /** The data stack's end: destroyed (then `leftovers` covers it too), or kept by prevent_destroy as on AWS. */
  readonly dataStack: "destroyed" | "kept by prevent_destroy";
  /** Each cross-stack reference of `<env>-workloads`, as Terraform read it from this run's state. */
  readonly workloadsReferences: Record<string, unknown>;
  /** Certificates and state bucket the stack expects to exist: made in the emulator first. */
  readonly fixtures: string[];
}

interface StackJson {
  terraform: { backend?: Record<string, Record<string, unknown>>; required_providers?: Record<string, { version?: string }> };
  provider?: { aws?: Array<{ region?: string }> };
  resource?: Record<string, Record<string, { lifecycle?: { prevent_destroy?: boolean } } & Record<string, unknown>>>;
  data?: { terraform_remote_state?: Record<string, { backend: string; config: Record<string, unknown>; workspace?: string }> };
}

class StepError extends Error {}

type Timed = <T>(step: string, run: () => Promise<T>) => Promise<T>;

function timer(steps: StepTime[], log: (line: string) => void): Timed {
  return async (step, run) => {
    const start = Date.now();
    log(`--- ${step}`);
    // Listed in the order the steps start: some run at once.
    const index = steps.push({ step, seconds: NaN }) - 1;
    const result = await run();
    steps[index] = { step, seconds: Math.round((Date.now() - start) / 100) / 10 };
    log(`--- ${step}: ${steps[index].seconds} s`);
    return result;
  };
}

/** Runs `run` for every item at once; waits for all, then fails with every failure, each named. */
async function eachAtOnce<T, R>(items: T[], name: (item: T) => string, run: (item: T) => Promise<R>): Promise<R[]> {
  const settled = await Promise.allSettled(items.map(run));
  const failures = settled.flatMap((s, i) => (s.status === "rejected" ? [`${name(items[i])}: ${s.reason instanceof Error ? s.reason.message : String(s.reason)}`] : []));
  if (failures.length > 0) throw new StepError(failures.join("\n"));
  return settled.map((s) => (s as PromiseFulfilledResult<R>).value);
}

/** Waits for every promise, then fails with the first failure: nothing is left running behind a failure. */
async function allOf<T>(promises: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

/** One `<env>-infra` stack's run, with its `<env>-data` stack, its own emulator and Terraform setup. */
class StackRun {
  readonly steps: StepTime[] = [];
  readonly fixtures: string[] = [];
  readonly envName: string;
  private emulator?: Emulator;
  private backend?: ServedBackend;
  private terraform?: TerraformSetup;
  private config?: StackJson;
  private dataConfig?: StackJson;
  private region?: string;
  private baseline: string[] = [];
  private applied = new Map<string, number>();
  readonly timed: Timed;

  constructor(
    readonly stack: string,
    private readonly outdir: string,
    private readonly options: EmulatedDeployOptions,
  ) {
    if (!stack.endsWith("-infra")) throw new StepError(`expected an <env>-infra stack, got ${stack}`);
    this.envName = stack.slice(0, -"-infra".length);
    this.timed = timer(this.steps, this.log);
  }

  readonly log = (line: string) => this.options.log(`[${this.stack}] ${line}`);
  private dir(stack: string): string {
    return path.join(this.outdir, "stacks", stack);
  }
  private get dataStack(): string {
    return `${this.envName}-data`;
  }

  /** Emulator up, fixtures and state bucket made, `<env>-data` applied, `<env>-infra` applied and re-planned. */
  async apply(): Promise<void> {
    for (const stack of [this.stack, this.dataStack]) {
      if (!fs.existsSync(path.join(this.dir(stack), "cdk.tf.json"))) {
        throw new StepError(`no stack ${stack} in the synth output; stacks: ${fs.readdirSync(path.join(this.outdir, "stacks")).join(", ")}`);
      }
    }
    const config = (this.config = readJson<StackJson>(path.join(this.dir(this.stack), "cdk.tf.json")));
    this.dataConfig = readJson<StackJson>(path.join(this.dir(this.dataStack), "cdk.tf.json"));
    this.region = config.provider?.aws?.[0]?.region;
    if (!this.region) throw new StepError(`${this.stack} has no AWS provider region`);
    this.terraform = this.options.terraformFor(config.terraform.required_providers?.aws?.version);
    const certificates = certificatesOf(config);
    this.emulator = await Emulator.start({ rootfs: this.options.rootfs, accountId: accountOf(config), certificateArns: certificates, log: this.log });
    this.fixtures.push(...certificates.map((arn) => `certificate ${arn}`));
    this.backend = await serveBackend(this.emulator, config, path.join(this.options.work, `${this.stack}.emulator.s3.tfbackend`), this.fixtures);
    this.baseline = await this.emulator.inventory(this.region);

    this.writeOverrides();
    // One at a time: the two share a plugin cache, which is not safe for inits running at once.
    await this.tf(`${this.dataStack}: terraform init`, this.dataStack, ["init", "-input=false", ...this.backend.initArgs], 5 * MINUTE_MS);
    await this.tf("terraform init", this.stack, ["init", "-input=false", ...this.backend.initArgs], 5 * MINUTE_MS);
    // Side by side: the infra stack reads nothing of the data stack (its role gets the key by tag), and the
    // provider spends most of a KMS key's minute waiting for it to read back consistently.
    const [dataApplied, infraApplied] = await allOf([
      this.tf(`${this.dataStack}: terraform apply`, this.dataStack, ["apply", "-input=false", "-auto-approve"], 10 * MINUTE_MS).then(() => this.stateList(this.dataStack)),
      this.tf("terraform apply", this.stack, ["apply", "-input=false", "-auto-approve"], 20 * MINUTE_MS).then(() => this.stateList(this.stack)),
    ]);
    this.applied = new Map([...[...dataApplied].map(([t, n]) => [`${this.dataStack} ${t}`, n] as const), ...[...infraApplied].map(([t, n]) => [`${this.stack} ${t}`, n] as const)]);
    await this.noChanges("terraform plan after apply");
    const lockfile = this.backend.lockfile;
    if (lockfile) {
      await this.timed("state lock held elsewhere stops a plan", () => lockIsHonoured(this.emulator!, lockfile, this.terraform!, this.dir(this.stack), this.log));
    }
  }

  /** After the synth replaced the output: re-plan, read the workloads references, destroy both stacks. */
  async afterSynth(): Promise<EmulatedDeployResult> {
    const emulator = this.emulator!;
    const backend = this.backend!;
    this.writeOverrides();
    await this.tf("terraform init (after synth)", this.stack, ["init", "-input=false", ...backend.initArgs], 5 * MINUTE_MS);
    await this.noChanges("terraform plan after synth");
    const workloadsReferences = await this.timed(`${this.envName}-workloads references`, () =>
      readWorkloadsReferences(this.dir(`${this.envName}-workloads`), this.terraform!, backend.remoteStateSettings, this.log),
    );
    await this.tf(`${this.dataStack}: terraform init (after synth)`, this.dataStack, ["init", "-input=false", ...backend.initArgs], 5 * MINUTE_MS);
    const kept = Object.values(this.dataConfig!.resource ?? {}).some((resources) => Object.values(resources).some((r) => r.lifecycle?.prevent_destroy === true));
    await allOf<unknown>([
      this.tf("terraform destroy", this.stack, ["destroy", "-input=false", "-auto-approve"], 20 * MINUTE_MS),
      kept ? this.refusedDestroy() : this.tf(`${this.dataStack}: terraform destroy`, this.dataStack, ["destroy", "-input=false", "-auto-approve"], 10 * MINUTE_MS),
    ]);
    const dataStack: EmulatedDeployResult["dataStack"] = kept ? "kept by prevent_destroy" : "destroyed";
    // What the data stack's state still holds (the kept key) may stay; nothing else the applies made.
    const keptIds = kept ? await this.stateIds(this.dataStack) : new Set<string>();
    const before = new Set(this.baseline);
    const leftovers = (await emulator.inventory(this.region!)).filter((item) => !before.has(item) && !keptIds.has(item.slice(item.indexOf(" ") + 1)));
    const workarounds = await emulator.workarounds();
    const coverage = [...coverageOf(this.dataStack, this.dataConfig!, this.applied, workarounds), ...coverageOf(this.stack, this.config!, this.applied, workarounds)];
    return { stack: this.stack, backend: backend.description, steps: this.steps, coverage, workarounds, leftovers, dataStack, workloadsReferences, fixtures: this.fixtures };
  }

  async stop(): Promise<void> {
    await this.emulator?.stop();
  }

  /** As on AWS: with deletionProtection the key outlives a destroy, and Terraform refuses it while planning, before any call. */
  private async refusedDestroy(): Promise<void> {
    const step = `${this.dataStack}: terraform destroy (refused: prevent_destroy)`;
    const { output } = await this.tf(step, this.dataStack, ["destroy", "-input=false", "-auto-approve", "-refresh=false"], 5 * MINUTE_MS, [1]);
    if (!output.includes(PREVENT_DESTROY_ERROR)) throw new StepError(`${step}: the destroy failed, but not on prevent_destroy (output above)`);
  }

  private async stateList(stack: string): Promise<Map<string, number>> {
    return countByType((await this.tf(`${stack === this.stack ? "" : `${stack}: `}terraform state list`, stack, ["state", "list"], MINUTE_MS)).output);
  }

  /** The ids of every resource in a stack's state. */
  private async stateIds(stack: string): Promise<Set<string>> {
    const { output } = await this.tf(`${stack}: terraform show`, stack, ["show", "-json"], MINUTE_MS);
    const state = JSON.parse(output) as { values?: { root_module?: { resources?: Array<{ values?: { id?: string } }> } } };
    return new Set((state.values?.root_module?.resources ?? []).map((r) => r.values?.id).filter((id): id is string => typeof id === "string"));
  }

  private writeOverrides(): void {
    for (const stack of [this.dataStack, this.stack]) writeOverride(this.dir(stack), this.emulator!);
  }

  private tf(step: string, stack: string, args: string[], timeoutMs: number, allowed: number[] = [0]) {
    return this.timed(step, async () => {
      const result = await runTerraformAsync(this.terraform!, this.dir(stack), args, { timeoutMs, onLine: (line) => this.log(`  ${line}`) });
      if (result.status === null || !allowed.includes(result.status)) {
        throw new StepError(`${step} failed in ${stack} (exit ${result.status ?? `killed after ${timeoutMs / 1000} s`})`);
      }
      return result;
    });
  }

  private async noChanges(step: string): Promise<void> {
    const { status } = await this.tf(step, this.stack, ["plan", "-input=false", "-detailed-exitcode"], 10 * MINUTE_MS, [0, 2]);
    if (status === 2) throw new StepError(`${step}: the plan of ${this.stack} shows changes (printed above): the apply did not converge, or the state was lost`);
  }
}

export async function deployEmulated(options: EmulatedDeployOptions): Promise<EmulatedDeployResult[]> {
  const { work, log } = options;
  const outdir = path.join(work, "cdktf.out");
  const shared: StepTime[] = [];
  const timed = timer(shared, log);
  const runs = options.stacks.map((stack) => new StackRun(stack, outdir, options));
  const environmentsDir = copyEnvironments(work);
  try {
    // The first synth in this process, from the same code npm run synth runs (no second build of dist/).
    await timed("synth", async () => buildApp({ outdir, environments: loadEnvironments(environmentsDir) }).synth());
    await eachAtOnce(runs, (r) => r.stack, (r) => r.apply());
    // The README's main command, once for all stacks: it replaces the synth output, .terraform and the overrides included.
    await timed("npm run synth (again)", () => npmSynth(outdir, environmentsDir, log));
    const results = await eachAtOnce(runs, (r) => r.stack, (r) => r.afterSynth());
    return results.map((result) => ({ ...result, steps: [shared[0], ...result.steps.slice(0, firstAfterSynth(result.steps)), shared[1], ...result.steps.slice(firstAfterSynth(result.steps))] }));
  } finally {
    await Promise.all(runs.map((r) => r.stop()));
  }
}

/** Where a run's own steps after the shared re-synth begin. */
function firstAfterSynth(steps: StepTime[]): number {
  return steps.findIndex((s) => s.step === "terraform init (after synth)");
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

function npmSynth(outdir: string, environmentsDir: string, log: (line: string) => void): Promise<void> {
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

/**
 * An S3 state backend is served by the emulator: its bucket is made there, and init points the backend at it.
 * `file` holds the backend settings: one per stack, since each stack has an emulator (an endpoint) of its own.
 */
async function serveBackend(emulator: Emulator, config: StackJson, file: string, fixtures: string[]): Promise<ServedBackend> {
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

/** Per resource type of one stack: declared, in the state after apply (`applied` keys are "<stack> <type>"), and the workarounds it needed. */
export function coverageOf(stack: string, config: StackJson, applied: Map<string, number>, workarounds: Record<string, Workaround>): CoverageRow[] {
  return Object.entries(config.resource ?? {})
    .map(([resourceType, resources]) => ({
      stack,
      resourceType,
      declared: Object.keys(resources).length,
      applied: applied.get(`${stack} ${resourceType}`) ?? 0,
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
  lines.push("", "stack | resource type | declared | applied | against moto", "--- | --- | --- | --- | ---");
  for (const row of result.coverage) {
    const how = row.applied < row.declared ? `skipped ${row.declared - row.applied}` : row.workarounds.length ? `with workaround: ${row.workarounds.join(", ")}` : "as moto implements it";
    lines.push(`${row.stack} | ${row.resourceType} | ${row.declared} | ${row.applied} | ${how}`);
  }
  const used = Object.entries(result.workarounds).filter(([, w]) => w.uses > 0);
  lines.push("", "workarounds used (scripts/emulator/moto_extensions.py):", ...used.map(([name, w]) => `  ${name} (${w.uses} calls): ${w.why}`));
  lines.push("", "fixtures made in the emulator first:", ...result.fixtures.map((f) => `  ${f}`));
  lines.push("", `workloads references read from the state: ${Object.keys(result.workloadsReferences).length}`);
  lines.push(`${result.stack.replace(/-infra$/, "-data")} after its destroy: ${result.dataStack}`);
  lines.push(result.leftovers.length ? `left in the emulator after destroy:\n${result.leftovers.map((l) => `  ${l}`).join("\n")}` : "left in the emulator after destroy: nothing");
  return lines.join("\n");
}

/** Fails the run on what the emulated deploy must show: everything applied, nothing left after destroy. */
export function problemsOf(result: EmulatedDeployResult): string[] {
  return [
    ...result.coverage.filter((r) => r.applied !== r.declared).map((r) => `${r.stack} ${r.resourceType}: ${r.applied} of ${r.declared} in the state after apply`),
    ...result.leftovers.map((l) => `left after destroy: ${l}`),
  ];
}

async function main(argv: string[]): Promise<number> {
  const workIndex = argv.indexOf("--work");
  const stacks = workIndex === -1 ? argv : [...argv.slice(0, workIndex), ...argv.slice(workIndex + 2)];
  if (stacks.length === 0 || stacks.some((s) => s.startsWith("-")) || (workIndex !== -1 && !argv[workIndex + 1])) {
    console.error("usage: npm run deploy:emulated -- <env>-infra [<env>-infra ...] [--work <dir>]");
    return 2;
  }
  const work = workIndex !== -1 ? path.resolve(argv[workIndex + 1]) : fs.mkdtempSync(path.join(os.tmpdir(), "emulated-deploy-"));
  fs.mkdirSync(work, { recursive: true });
  const log = (line: string) => console.log(line);
  const setups: TerraformSetup[] = [];
  try {
    const results = await deployEmulated({
      stacks,
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
    for (const result of results) console.log(`\n${formatReport(result)}`);
    const problems = results.flatMap(problemsOf);
    if (problems.length > 0) {
      console.error(`\nFAILED:\n${problems.join("\n")}\n(work folder kept: ${work})`);
      return 1;
    }
    if (workIndex === -1) fs.rmSync(work, { recursive: true, force: true });
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
