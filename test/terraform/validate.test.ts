/**
 * Real Terraform on the synthesized stacks: `init` + `validate` on every `-infra` stack, and `plan`
 * with fake credentials on every one without data sources. Offline: the AWS provider comes from a
 * local filesystem mirror declared in a CLI config of this test's own. Skipped, with the reason
 * printed, where the terraform binary or the mirror is missing.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { synthAll } from "../../scripts/synth";

const AWS_PROVIDER = "registry.terraform.io/hashicorp/aws";
const DEFAULT_MIRRORS = ["/opt/tf-plugins"];
const STEP_TIMEOUT_MS = 240_000;

interface StackJson {
  terraform: { required_providers?: Record<string, { version?: string }> };
  data?: unknown;
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

interface Setup {
  readonly terraform: string;
  readonly mirror: string;
  readonly work: string;
  readonly stacks: string[];
}

/** Decided at load time, because jest picks skipped or not when the tests are declared. */
function prepare(): Setup | string {
  const terraform = findOnPath("terraform");
  if (!terraform) return "no terraform binary on PATH";
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "tf-validate-"));
  const stacks = synthAll(path.join(work, "cdktf.out")).filter((s) => s.endsWith("-infra"));
  const version = readStack(work, stacks[0]).terraform.required_providers?.aws?.version;
  const mirror = version ? findMirror(version) : undefined;
  if (!version || !mirror) {
    fs.rmSync(work, { recursive: true, force: true });
    const where = process.env.TF_PROVIDER_MIRROR ?? DEFAULT_MIRRORS.join(", ");
    return `AWS provider ${version ?? "(no version in the stack)"} not found in the mirror at ${where} (set TF_PROVIDER_MIRROR to the folder above registry.terraform.io)`;
  }
  fs.writeFileSync(
    path.join(work, "terraform.rc"),
    [
      "provider_installation {",
      `  filesystem_mirror {\n    path    = ${JSON.stringify(mirror)}\n    include = ["${AWS_PROVIDER}"]\n  }`,
      `  direct {\n    exclude = ["${AWS_PROVIDER}"]\n  }`,
      "}",
      "",
    ].join("\n"),
  );
  fs.mkdirSync(path.join(work, "plugin-cache"));
  return { terraform, mirror, work, stacks };
}

function readStack(work: string, stack: string): StackJson {
  return JSON.parse(fs.readFileSync(path.join(work, "cdktf.out", "stacks", stack, "cdk.tf.json"), "utf8")) as StackJson;
}

const setup = prepare();

if (typeof setup === "string") {
  console.warn(`terraform validation skipped: ${setup}`);
  describe.skip("terraform validate and plan (skipped: see the warning above)", () => {
    test("validate", () => undefined);
  });
} else {
  const { terraform, work, stacks } = setup;
  // Only what terraform needs, so the caller's AWS profile or TF_* settings cannot change the result.
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
  const run = (stack: string, args: string[]) => {
    const result = spawnSync(terraform, [...args, "-no-color"], {
      cwd: path.join(work, "cdktf.out", "stacks", stack),
      env,
      encoding: "utf8",
      timeout: STEP_TIMEOUT_MS,
    });
    const output = `${result.stdout}${result.stderr}${result.error ? String(result.error) : ""}`;
    if (result.status !== 0) throw new Error(`terraform ${args[0]} failed in ${stack} (exit ${result.status}):\n${output}`);
    return output;
  };

  // Override files merge into the synthesized config: a throwaway local state and a provider that calls no AWS API before apply.
  const override = (statePath: string) => ({
    terraform: { backend: { local: { path: statePath } } },
    provider: {
      aws: {
        access_key: "AKIAFAKEFAKEFAKEFAKE",
        secret_key: "fake-secret-key-for-offline-plans",
        skip_credentials_validation: true,
        skip_requesting_account_id: true,
        skip_metadata_api_check: true,
      },
    },
  });

  /** A state as an older release left it: one symmetric KMS key, with the attributes a real one has. */
  const stateWithKey = (name: string) => {
    const keyId = "1234abcd-12ab-34cd-56ef-1234567890ab";
    const attributes = {
      id: keyId,
      key_id: keyId,
      arn: `arn:aws:kms:eu-west-1:111122223333:key/${keyId}`,
      description: "a key deployed by an older release",
      enable_key_rotation: true,
      rotation_period_in_days: 365,
      deletion_window_in_days: 30,
      is_enabled: true,
      key_usage: "ENCRYPT_DECRYPT",
      customer_master_key_spec: "SYMMETRIC_DEFAULT",
      multi_region: false,
      bypass_policy_lockout_safety_check: false,
      policy: "{}",
      tags: {},
      tags_all: {},
    };
    const provider = `provider["${AWS_PROVIDER}"]`;
    return { version: 4, serial: 1, lineage: "00000000-0000-4000-8000-000000000000", outputs: {}, resources: [{ mode: "managed", type: "aws_kms_key", name, provider, instances: [{ schema_version: 0, attributes }] }] };
  };

  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  describe("terraform validate", () => {
    test.each(stacks)(
      "%s is valid Terraform",
      (stack) => {
        run(stack, ["init", "-backend=false", "-input=false"]);
        expect(run(stack, ["validate"])).toContain("Success! The configuration is valid.");
      },
      STEP_TIMEOUT_MS * 2,
    );
  });

  const withData = stacks.filter((s) => readStack(work, s).data !== undefined);
  if (withData.length > 0) console.warn(`terraform plan skipped for ${withData.join(", ")}: data sources need real credentials`);
  const planned = stacks.filter((s) => !withData.includes(s));

  describe("terraform plan with fake credentials", () => {
    test.each(planned)(
      "%s plans",
      (stack) => {
        fs.writeFileSync(path.join(work, "cdktf.out", "stacks", stack, "zz_plan_override.tf.json"), JSON.stringify(override(path.join(work, `${stack}.tfstate`))));
        run(stack, ["init", "-reconfigure", "-input=false"]);
        expect(run(stack, ["plan", "-input=false", "-lock=false"])).toMatch(/Plan: [1-9]\d* to add, 0 to change, 0 to destroy\./);
      },
      STEP_TIMEOUT_MS * 2,
    );
  });

  // A state 0.1.0 left: the flow-log key at the address it had then (before it moved into an EncryptionKey).
  const V0_1_FLOW_LOG_KEY = "aws_kms_key.network_flow-log-key_12E26101";
  describe("terraform plan of an upgrade from 0.1.0", () => {
    test.each(planned.slice(0, 1))(
      "%s keeps the deployed flow-log key: moved, never destroyed",
      (stack) => {
        const dir = `${stack}-upgrade`;
        const stateFile = path.join(work, `${dir}.tfstate`);
        fs.mkdirSync(path.join(work, "cdktf.out", "stacks", dir));
        fs.copyFileSync(path.join(work, "cdktf.out", "stacks", stack, "cdk.tf.json"), path.join(work, "cdktf.out", "stacks", dir, "cdk.tf.json"));
        fs.writeFileSync(path.join(work, "cdktf.out", "stacks", dir, "zz_plan_override.tf.json"), JSON.stringify(override(stateFile)));
        fs.writeFileSync(stateFile, JSON.stringify(stateWithKey(V0_1_FLOW_LOG_KEY.split(".")[1])));
        run(dir, ["init", "-input=false"]);
        // No refresh: the state is all the plan knows, and no AWS API is called.
        const plan = run(dir, ["plan", "-refresh=false", "-input=false", "-lock=false"]);
        expect(plan).not.toContain(`${V0_1_FLOW_LOG_KEY} will be destroyed`);
        expect(plan).toMatch(new RegExp(`# aws_kms_key\\.network_flow-log-key_\\w+ will be updated in-place\\n  # \\(moved from ${V0_1_FLOW_LOG_KEY.replace(/\./g, "\\.")}\\)`));
        expect(plan).toMatch(/Plan: \d+ to add, 1 to change, 0 to destroy\./);
      },
      STEP_TIMEOUT_MS * 2,
    );
  });
}
