/**
 * The infra stacks applied for real against the AWS emulator (scripts/emulator: moto from Debian
 * trixie, with the workarounds of moto_extensions.py) by the real AWS provider from the offline
 * mirror: dev (local state) and airgapped (S3 state with a lockfile, served by the emulator). Each
 * run applies, re-plans with no changes, runs `npm run synth` and re-plans with no changes, reads the
 * workloads stack's cross-stack references from the state, destroys, and checks the emulator holds
 * nothing the apply made. About 5 minutes per stack on a loaded 2-core machine, hence the budgets.
 *
 * Skipped, with the reason printed, where terraform, the provider mirror or the emulator's root
 * filesystem (scripts/emulator/rootfs.sh, which .ci/run builds first) is missing; with
 * TERRAFORM_TESTS=required (CI) that is a failure instead.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { deployEmulated, formatReport, problemsOf } from "../../scripts/emulator/deploy";
import { Emulator, findRootfs } from "../../scripts/emulator/emulator";
import { synthAll } from "../../scripts/synth";
import { runTerraformAsync, terraformRequired, terraformSetup } from "../../scripts/terraform";

/** One stack's emulated deploy: two synths, init twice, apply, three plans, destroy. */
const DEPLOY_BUDGET_MS = 20 * 60_000;
const REFUSAL_BUDGET_MS = 5 * 60_000;

const out = fs.mkdtempSync(path.join(os.tmpdir(), "emulated-version-"));
const awsVersion = (() => {
  const stack = synthAll(out).find((s) => s.endsWith("-infra"))!;
  const config = JSON.parse(fs.readFileSync(path.join(out, "stacks", stack, "cdk.tf.json"), "utf8")) as { terraform: { required_providers?: { aws?: { version?: string } } } };
  fs.rmSync(out, { recursive: true, force: true });
  return config.terraform.required_providers?.aws?.version;
})();

// Decided at load time, because jest picks skipped or not when the tests are declared.
const setup = terraformSetup(awsVersion);
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
    // Both at once: most of a run is the provider waiting on its pollers, so two overlap well on 2 cores (BENCHMARKS.md).
    test.concurrent.each(["dev-infra", "airgapped-infra"])(
      "%s: apply, no changes on re-plan, state survives npm run synth, workloads references resolve, destroy leaves nothing",
      async (stack) => {
        const work = fs.mkdtempSync(path.join(os.tmpdir(), `emulated-${stack}-`));
        works.push(work);
        const lines: string[] = [];
        let result: Awaited<ReturnType<typeof deployEmulated>>;
        try {
          // A Terraform setup of its own: the two runs must not share a plugin cache, which is not safe for concurrent inits.
          const terraformFor = (version: string | undefined) => {
            const own = terraformSetup(version);
            if (typeof own === "string") throw new Error(own);
            works.push(own.work);
            return own;
          };
          result = await deployEmulated({ stack, work, rootfs: rootfs.rootfs, terraformFor, log: (line) => lines.push(line) });
        } catch (err) {
          // The whole Terraform output, so a CI failure says which resource failed and why.
          throw new Error(`${err instanceof Error ? err.message : String(err)}\n${lines.slice(-200).join("\n")}`);
        }
        console.log(formatReport(result));
        expect(problemsOf(result)).toEqual([]);
        expect(result.steps.map((s) => s.step)).toEqual([
          "npm run synth",
          "terraform init",
          "terraform apply",
          "terraform state list",
          "terraform plan after apply",
          // S3 state with a lockfile: a lock held elsewhere must stop a plan.
          ...(stack === "airgapped-infra" ? ["state lock held elsewhere stops a plan"] : []),
          "npm run synth (again)",
          "terraform init (after synth)",
          "terraform plan after synth",
          `${stack.replace(/-infra$/, "")}-workloads references`,
          "terraform destroy",
        ]);
        // The cluster and its node groups are in every infra stack: the report covers what the stack declares.
        expect(result.coverage.map((r) => r.resourceType)).toEqual(expect.arrayContaining(["aws_eks_cluster", "aws_eks_node_group", "aws_vpc", "aws_lb"]));
        expect(Object.keys(result.workloadsReferences).some((e) => e.startsWith("${base64decode("))).toBe(true);
        if (stack === "airgapped-infra") expect(result.backend).toMatch(/^s3 .*use_lockfile/);
        else expect(result.backend).toContain(path.join(work, "terraform-state"));
      },
      DEPLOY_BUDGET_MS,
    );
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
    terraform: { required_providers: { aws: { source: "hashicorp/aws", version: awsVersion } } },
    provider: {
      aws: { region: "eu-west-1", access_key: "emulator", secret_key: "emulator", skip_credentials_validation: true, skip_metadata_api_check: true, max_retries: 2, endpoints: [{ ecr: endpoint, sts: endpoint }] },
    },
    resource: { aws_ecr_pull_through_cache_rule: { hub: { ecr_repository_prefix: "hub", upstream_registry_url: "docker.io" } } },
  };
}
