/**
 * Real Terraform, offline, for the tests and the emulated deploy (scripts/emulator): the `terraform`
 * binary on PATH and the AWS provider from a local filesystem mirror, declared in a CLI config of the
 * caller's own. Every other provider is
 * looked up in an empty mirror, so `init` of a stack that needs one (the workloads stacks'
 * Kubernetes provider) fails fast and says so, instead of reaching for the registry.
 *
 * Where the binary or the mirror is missing, `terraformSetup` returns the reason; with
 * TERRAFORM_TESTS=required (CI) that reason is an error, so CI cannot skip these tests silently.
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const AWS_PROVIDER = "registry.terraform.io/hashicorp/aws";
/** The AWS provider version the stacks ask for: the one @cdktf/provider-aws was generated from. */
export const AWS_PROVIDER_VERSION = (JSON.parse(fs.readFileSync(require.resolve("@cdktf/provider-aws/package.json"), "utf8")) as { cdktf: { provider: { version: string } } }).cdktf.provider.version;
/** Where this kind of machine keeps the mirror (ENGINEERING.md); TF_PROVIDER_MIRROR names another. */
const DEFAULT_MIRRORS = ["/opt/tf-plugins"];
export const STEP_TIMEOUT_MS = 240_000;

export interface TerraformSetup {
  readonly terraform: string;
  /** The folder above registry.terraform.io that holds the AWS provider. */
  readonly mirror: string;
  /** A scratch folder with the CLI config, a plugin cache and an empty HOME. */
  readonly work: string;
  /** Only what terraform needs, so the caller's AWS profile or TF_* settings cannot change a result. */
  readonly env: NodeJS.ProcessEnv;
}

export interface TerraformResult {
  readonly status: number | null;
  readonly output: string;
}

function findOnPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, binary);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not in this PATH entry
    }
  }
  return undefined;
}

/** A mirror root (the folder above registry.terraform.io) holding the provider, unpacked or packed. */
function findMirror(version: string): string | undefined {
  const platform = `${process.platform}_${process.arch === "x64" ? "amd64" : process.arch}`;
  const roots = process.env.TF_PROVIDER_MIRROR ? [process.env.TF_PROVIDER_MIRROR] : DEFAULT_MIRRORS;
  return roots.find((root) => {
    const unpacked = path.join(root, AWS_PROVIDER, version, platform);
    const packed = path.join(root, AWS_PROVIDER, `terraform-provider-aws_${version}_${platform}.zip`);
    const hasBinary = fs.existsSync(unpacked) && fs.readdirSync(unpacked).some((f) => f.startsWith(`terraform-provider-aws_v${version}`));
    return hasBinary || fs.existsSync(packed);
  });
}

/** True when CI demands the terraform tests (TERRAFORM_TESTS=required): a missing tool is then a failure. */
export function terraformRequired(): boolean {
  return process.env.TERRAFORM_TESTS === "required";
}

/**
 * Finds terraform and the mirror holding `awsProviderVersion`, and writes the CLI config into a
 * fresh scratch folder. Returns why not when either is missing (an error under TERRAFORM_TESTS=required).
 */
export function terraformSetup(awsProviderVersion: string | undefined): TerraformSetup | string {
  const reason = (() => {
    const terraform = findOnPath("terraform");
    if (!terraform) return "no terraform binary on PATH";
    const mirror = awsProviderVersion ? findMirror(awsProviderVersion) : undefined;
    if (!awsProviderVersion || !mirror) {
      const where = process.env.TF_PROVIDER_MIRROR ?? DEFAULT_MIRRORS.join(", ");
      return `AWS provider ${awsProviderVersion ?? "(no version in the stack)"} not found in the mirror at ${where} (set TF_PROVIDER_MIRROR to the folder above registry.terraform.io)`;
    }
    return { terraform, mirror };
  })();
  if (typeof reason === "string") {
    if (terraformRequired()) throw new Error(`TERRAFORM_TESTS=required but ${reason}`);
    return reason;
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "tf-"));
  const noOtherProviders = path.join(work, "no-other-providers");
  fs.mkdirSync(noOtherProviders);
  fs.mkdirSync(path.join(work, "plugin-cache"));
  fs.writeFileSync(
    path.join(work, "terraform.rc"),
    [
      "provider_installation {",
      `  filesystem_mirror {\n    path    = ${JSON.stringify(reason.mirror)}\n    include = ["${AWS_PROVIDER}"]\n  }`,
      `  filesystem_mirror {\n    path    = ${JSON.stringify(noOtherProviders)}\n    exclude = ["${AWS_PROVIDER}"]\n  }`,
      "}",
      "",
    ].join("\n"),
  );
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: work,
    TMPDIR: os.tmpdir(),
    TF_CLI_CONFIG_FILE: path.join(work, "terraform.rc"),
    TF_PLUGIN_CACHE_DIR: path.join(work, "plugin-cache"),
    TF_IN_AUTOMATION: "1",
    TF_INPUT: "0",
    CHECKPOINT_DISABLE: "1",
  };
  return { ...reason, work, env };
}

/** Runs terraform in `cwd` and returns its exit status and output, whatever they are. */
export function runTerraform(setup: TerraformSetup, cwd: string, args: string[]): TerraformResult {
  const result = spawnSync(setup.terraform, [...args, "-no-color"], { cwd, env: setup.env, encoding: "utf8", timeout: STEP_TIMEOUT_MS });
  return { status: result.status, output: `${result.stdout}${result.stderr}${result.error ? String(result.error) : ""}` };
}

/** Runs terraform in `cwd`; a non-zero exit throws with the output. */
export function terraformOk(setup: TerraformSetup, cwd: string, args: string[]): string {
  const { status, output } = runTerraform(setup, cwd, args);
  if (status !== 0) throw new Error(`terraform ${args[0]} failed in ${cwd} (exit ${status}):\n${output}`);
  return output;
}

/**
 * Runs terraform in `cwd` without blocking, for the long steps (an apply takes minutes): each output
 * line goes to `onLine` as it comes. Resolves with the exit status and the whole output; a run past
 * `timeoutMs` is killed and resolves with status null.
 */
export function runTerraformAsync(setup: TerraformSetup, cwd: string, args: string[], options: { timeoutMs: number; onLine?: (line: string) => void }): Promise<TerraformResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(setup.terraform, [...args, "-no-color"], { cwd, env: setup.env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let partial = "";
    const take = (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      output += text;
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) options.onLine?.(line);
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    const timer = setTimeout(() => child.kill("SIGTERM"), options.timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (status) => {
      clearTimeout(timer);
      if (partial) options.onLine?.(partial);
      resolve({ status, output });
    });
  });
}
