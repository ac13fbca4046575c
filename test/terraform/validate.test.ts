/**
 * Real Terraform on every synthesized stack: `init` + `validate` on every `-infra` stack, `plan`
 * with fake credentials on every one without data sources, and `init -backend=false` on every
 * `-workloads` stack, which parses its whole configuration before it looks for the Kubernetes
 * provider (not available here): the only error allowed there is that provider's absence.
 * Offline (scripts/terraform.ts). Skipped, with the reason printed, where the terraform binary
 * or the mirror is missing; with TERRAFORM_TESTS=required (CI) that is a failure instead.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { AWS_PROVIDER, runTerraform, STEP_TIMEOUT_MS, terraformOk, terraformSetup } from "../../scripts/terraform";
import { stockSynthDir } from "../support/stock-synth";

interface StackJson {
  terraform: { required_providers?: Record<string, { version?: string }> };
  data?: unknown;
}

const out = fs.mkdtempSync(path.join(os.tmpdir(), "tf-validate-"));
// terraform writes into each stack's folder: a copy of the stock synth, not the shared one.
fs.cpSync(stockSynthDir(), path.join(out, "cdktf.out"), { recursive: true });
const stacks = fs.readdirSync(path.join(out, "cdktf.out", "stacks")).sort();
const readStack = (stack: string): StackJson => JSON.parse(fs.readFileSync(path.join(out, "cdktf.out", "stacks", stack, "cdk.tf.json"), "utf8")) as StackJson;
const stackDir = (stack: string) => path.join(out, "cdktf.out", "stacks", stack);
const infraStacks = stacks.filter((s) => s.endsWith("-infra"));
const workloadsStacks = stacks.filter((s) => s.endsWith("-workloads"));
// Decided at load time, because jest picks skipped or not when the tests are declared.
const setup = terraformSetup(readStack(infraStacks[0]).terraform.required_providers?.aws?.version);
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

if (typeof setup === "string") {
  console.warn(`terraform validation skipped: ${setup}`);
  describe.skip("terraform validate and plan (skipped: see the warning above)", () => {
    test("validate", () => undefined);
  });
} else {
  const run = (stack: string, args: string[]) => terraformOk(setup, stackDir(stack), args);
  afterAll(() => fs.rmSync(setup.work, { recursive: true, force: true }));

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

  describe("terraform validate", () => {
    test.each(infraStacks)(
      "%s is valid Terraform",
      (stack) => {
        run(stack, ["init", "-backend=false", "-input=false"]);
        expect(run(stack, ["validate"])).toContain("Success! The configuration is valid.");
      },
      STEP_TIMEOUT_MS * 2,
    );
  });

  describe("terraform init of the workloads stacks", () => {
    test("there is a workloads stack for every infra stack", () => {
      expect(workloadsStacks.map((s) => s.replace(/-workloads$/, ""))).toEqual(infraStacks.map((s) => s.replace(/-infra$/, "")));
    });
    test.each(workloadsStacks)(
      "%s parses: init fails only because the Kubernetes provider is not available here",
      (stack) => {
        const { status, output } = runTerraform(setup, stackDir(stack), ["init", "-backend=false", "-input=false"]);
        // Terraform reads and checks every file before "Initializing provider plugins"; a configuration error stops it before that line.
        expect(output).toContain("Initializing provider plugins...");
        expect(status).not.toBe(0);
        const errors = [...output.matchAll(/^Error: (.+)$/gm)].map((m) => m[1]);
        expect(errors).toEqual(["Failed to query available provider packages"]);
        expect(output).toMatch(/provider registry\.terraform\.io\/hashicorp\/kubernetes was\s+not found in any of the search locations/);
      },
      STEP_TIMEOUT_MS,
    );
  });

  const withData = infraStacks.filter((s) => readStack(s).data !== undefined);
  if (withData.length > 0) console.warn(`terraform plan skipped for ${withData.join(", ")}: data sources need real credentials`);
  const planned = infraStacks.filter((s) => !withData.includes(s));

  describe("terraform plan with fake credentials", () => {
    test.each(planned)(
      "%s plans",
      (stack) => {
        fs.writeFileSync(path.join(stackDir(stack), "zz_plan_override.tf.json"), JSON.stringify(override(path.join(out, `${stack}.tfstate`))));
        run(stack, ["init", "-reconfigure", "-input=false"]);
        expect(run(stack, ["plan", "-input=false", "-lock=false"])).toMatch(/Plan: [1-9]\d* to add, 0 to change, 0 to destroy\./);
      },
      STEP_TIMEOUT_MS * 2,
    );
  });

  /** Auto Scaling group tags as 0.1.0's NodePool numbered them: 0 and 1 the discovery tags EKS sets itself, 2 on the scale-from-zero hints. */
  const stateWithAsgTags = (stack: string) => {
    const tf = readStack(stack) as StackJson & { resource: Record<string, Record<string, unknown>> };
    const gpuTag = Object.keys(tf.resource.aws_autoscaling_group_tag).find((id) => id.includes("resources-nvidia-com-gpu"))!;
    const pool = /^(cluster_pool-[a-z0-9-]+)_asg-tag/.exec(gpuTag)![1];
    const legacy = (tf as unknown as { removed: { from: string }[] }).removed.map((r) => r.from).filter((a) => a.includes(`${pool}_asg-tag-`));
    const moved = (tf as unknown as { moved: { from: string; to: string }[] }).moved.find((m) => m.to === `aws_autoscaling_group_tag.${gpuTag}`)!;
    const tag = (address: string, key: string, value: string) => ({
      mode: "managed",
      type: "aws_autoscaling_group_tag",
      name: address.split(".")[1],
      provider: `provider["${AWS_PROVIDER}"]`,
      instances: [{ schema_version: 0, attributes: { id: `eks-group,${key}`, autoscaling_group_name: "eks-group", tag: [{ key, value, propagate_at_launch: false }] } }],
    });
    const resources = [
      tag(legacy[0], "k8s.io/cluster-autoscaler/enabled", "true"),
      tag(legacy[1], "k8s.io/cluster-autoscaler/voice-selfhost-dev", "owned"),
      tag(moved.from, "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu", "1"),
    ];
    return { state: { version: 4, serial: 1, lineage: "00000000-0000-4000-8000-000000000001", outputs: {}, resources }, legacy, moved };
  };

  describe("terraform plan of 0.1.0's Auto Scaling group tags", () => {
    test.each(planned.filter((s) => s.startsWith("dev-")))(
      "%s forgets the discovery tags EKS owns (never deletes them) and moves the scale-from-zero hints",
      (stack) => {
        const dir = `${stack}-asg-tags`;
        const stateFile = path.join(out, `${dir}.tfstate`);
        fs.mkdirSync(stackDir(dir));
        fs.copyFileSync(path.join(stackDir(stack), "cdk.tf.json"), path.join(stackDir(dir), "cdk.tf.json"));
        fs.writeFileSync(path.join(stackDir(dir), "zz_plan_override.tf.json"), JSON.stringify(override(stateFile)));
        const { state, legacy, moved } = stateWithAsgTags(stack);
        fs.writeFileSync(stateFile, JSON.stringify(state));
        run(dir, ["init", "-input=false"]);
        const plan = run(dir, ["plan", "-refresh=false", "-input=false", "-lock=false"]);
        for (const address of legacy) expect(plan).toContain(`# ${address} will no longer be managed by Terraform, but will not be destroyed`);
        expect(plan).toContain(`# (moved from ${moved.from})`);
        expect(plan).not.toMatch(/aws_autoscaling_group_tag\.\S+ will be destroyed/);
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
        const stateFile = path.join(out, `${dir}.tfstate`);
        fs.mkdirSync(stackDir(dir));
        fs.copyFileSync(path.join(stackDir(stack), "cdk.tf.json"), path.join(stackDir(dir), "cdk.tf.json"));
        fs.writeFileSync(path.join(stackDir(dir), "zz_plan_override.tf.json"), JSON.stringify(override(stateFile)));
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
