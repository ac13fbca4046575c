/**
 * The infra stacks applied for real against the AWS emulator (scripts/emulator: moto from Debian
 * trixie, with the workarounds of moto_extensions.py) by the real AWS provider from the offline
 * mirror: dev (local state) and airgapped (S3 state with a lockfile, served by the emulator), side by
 * side in one run that shares its two synths. Each applies its `<env>-data` stack beside the infra
 * stack, re-plans with no changes, survives `npm run synth` with no changes, reads the workloads
 * stack's cross-stack references from the state, destroys the infra stack leaving nothing, and
 * destroys the data stack (dev) or is refused by its prevent_destroy (airgapped, as on AWS). 6.5 to
 * 12.5 minutes for the file on a loaded 2-core machine (BENCHMARKS.md), hence the budget.
 *
 * Skipped, with the reason printed, where terraform, the provider mirror or the emulator's root
 * filesystem (scripts/emulator/rootfs.sh, which .ci/run builds first) is missing; with
 * TERRAFORM_TESTS=required (CI) that is a failure instead.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { deployEmulated, EmulatedDeployResult, formatReport, problemsOf } from "../../scripts/emulator/deploy";
import { Emulator, findRootfs } from "../../scripts/emulator/emulator";
import { AWS_PROVIDER_VERSION, runTerraformAsync, terraformRequired, terraformSetup } from "../../scripts/terraform";

/** Both stacks' emulated deploys at once: two synths, data and infra applies, three plans each, destroys. */
const DEPLOY_BUDGET_MS = 25 * 60_000;
const REFUSAL_BUDGET_MS = 5 * 60_000;
const STACKS = ["dev-infra", "airgapped-infra"];

// Decided at load time, because jest picks skipped or not when the tests are declared.
const setup = terraformSetup(AWS_PROVIDER_VERSION);
const rootfs = findRootfs();
if ("reason" in rootfs && terraformRequired()) throw new Error(`TERRAFORM_TESTS=required but ${rootfs.reason}`);
const skipReason = typeof setup === "string" ? setup : "reason" in rootfs ? rootfs.reason : undefined;

if (skipReason !== undefined || typeof setup === "string" || "reason" in rootfs) {
  console.warn(`emulated apply skipped: ${skipReason}`);
  describe.skip("emulated apply (skipped: see the warning above)", () => {
    test("apply", () => undefined);
  });
} else {
  const works: string[] = [];
  afterAll(() => {
    for (const dir of [setup.work, ...works]) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe("infra stacks applied against the AWS emulator", () => {
    let results: EmulatedDeployResult[] = [];
    beforeAll(async () => {
      const work = fs.mkdtempSync(path.join(os.tmpdir(), "emulated-deploy-"));
      works.push(work);
      const lines: string[] = [];
      // A Terraform setup per stack: Terraform's plugin cache is not safe for inits running at once.
      const terraformFor = (version: string | undefined) => {
        const own = terraformSetup(version);
        if (typeof own === "string") throw new Error(own);
        works.push(own.work);
        return own;
      };
      try {
        results = await deployEmulated({ stacks: STACKS, work, rootfs: rootfs.rootfs, terraformFor, log: (line) => lines.push(line) });
      } catch (err) {
        // The end of the Terraform output, so a CI failure says which resource failed and why.
        throw new Error(`${err instanceof Error ? err.message : String(err)}\n${lines.slice(-300).join("\n")}`);
      }
      for (const result of results) console.log(formatReport(result));
    }, DEPLOY_BUDGET_MS);

    test.each(STACKS)("%s: data and infra applied, no changes on re-plan, state survives npm run synth, workloads references resolve, destroy leaves nothing", (stack) => {
      const result = results.find((r) => r.stack === stack)!;
      expect(result).toBeDefined();
      expect(problemsOf(result)).toEqual([]);
      const env = stack.replace(/-infra$/, "");
      const steps = result.steps.map((s) => s.step);
      // The data and infra stacks' applies and destroys run side by side: the set of steps, then their order where it matters.
      expect([...steps].sort()).toEqual(
        [
          "synth",
          `${env}-data: terraform init`,
          `${env}-data: terraform apply`,
          `${env}-data: terraform state list`,
          "terraform init",
          "terraform apply",
          "terraform state list",
          "terraform plan after apply",
          // S3 state with a lockfile: a lock held elsewhere must stop a plan.
          ...(stack === "airgapped-infra" ? ["state lock held elsewhere stops a plan"] : []),
          "npm run synth (again)",
          "terraform init (after synth)",
          "terraform plan after synth",
          `${env}-workloads references`,
          `${env}-data: terraform init (after synth)`,
          "terraform destroy",
          // Elsewhere than dev the key is kept (deletionProtection): Terraform refuses, and the key's ids are read from the state.
          ...(stack === "airgapped-infra" ? [`${env}-data: terraform destroy (refused: prevent_destroy)`, `${env}-data: terraform show`] : [`${env}-data: terraform destroy`]),
        ].sort(),
      );
      const order = ["synth", `${env}-data: terraform apply`, "terraform plan after apply", "npm run synth (again)", "terraform plan after synth", `${env}-workloads references`, "terraform destroy"].map((s) => steps.indexOf(s));
      expect(order).toEqual([...order].sort((a, b) => a - b));
      // The cluster and its node groups are in every infra stack, the retained key in every data stack: the report covers both.
      const covered = result.coverage.map((r) => `${r.stack} ${r.resourceType}`);
      expect(covered).toEqual(expect.arrayContaining([`${env}-data aws_kms_key`, ...["aws_eks_cluster", "aws_eks_node_group", "aws_vpc", "aws_lb"].map((t) => `${stack} ${t}`)]));
      const references = Object.keys(result.workloadsReferences);
      expect(references.some((e) => e.startsWith("${base64decode("))).toBe(true);
      // The workloads stack reads the data stack's state too (the retained key's ARN for its StorageClass).
      expect(references.some((e) => e.includes(`cross-stack-reference-input-${env}-data`))).toBe(true);
      if (stack === "airgapped-infra") {
        expect(result.backend).toMatch(/^s3 .*use_lockfile/);
        expect(result.dataStack).toBe("kept by prevent_destroy");
      } else {
        expect(result.backend).toContain("terraform-state");
        expect(result.dataStack).toBe("destroyed");
      }
    });
  });

  describe("the emulator refuses what AWS refuses", () => {
    let emulator: Emulator;
    beforeAll(async () => {
      emulator = await Emulator.start({ rootfs: rootfs.rootfs, accountId: "111122223333", certificateArns: [], log: () => undefined });
    }, REFUSAL_BUDGET_MS);
    afterAll(() => emulator?.stop());

    test(
      "a pull-through cache rule for a registry ECR does not support fails the apply",
      async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "emulated-refusal-"));
        works.push(dir);
        fs.writeFileSync(path.join(dir, "main.tf.json"), JSON.stringify(refusalConfig(emulator.endpoint)));
        const run = (args: string[]) => runTerraformAsync(setup, dir, args, { timeoutMs: REFUSAL_BUDGET_MS });
        expect((await run(["init", "-input=false"])).status).toBe(0);
        const apply = await run(["apply", "-input=false", "-auto-approve"]);
        expect(apply.status).toBe(1);
        expect(apply.output).toContain("UnsupportedUpstreamRegistryException");
        expect(apply.output).toContain("docker.io");
      },
      REFUSAL_BUDGET_MS,
    );
  });
}

/** A Docker Hub rule named by the wrong host (ECR wants registry-1.docker.io, and a credential). */
function refusalConfig(endpoint: string) {
  return {
    terraform: { required_providers: { aws: { source: "hashicorp/aws", version: AWS_PROVIDER_VERSION } } },
    provider: {
      aws: { region: "eu-west-1", access_key: "emulator", secret_key: "emulator", skip_credentials_validation: true, skip_metadata_api_check: true, max_retries: 2, endpoints: [{ ecr: endpoint, sts: endpoint }] },
    },
    resource: { aws_ecr_pull_through_cache_rule: { hub: { ecr_repository_prefix: "hub", upstream_registry_url: "docker.io" } } },
  };
}
