/**
 * `npm run mirror -- <env> [--account <12 digits>]`
 *
 * Prints what an environment's workloads run, pinned by digest, and the exact commands that copy
 * each image into the environment's ECR repositories (skopeo, with crane as the alternative), from
 * the registry's mirror manifest. Fails when a workload runs an image the manifest lacks, or pins a
 * tag or digest other than the manifest's. Synthesizes only: no credentials, no network.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { TerraformStack } from "cdktf";
import { loadEnvironments } from "../app";
import { parseImageReference } from "../constructs/private/image-ref";
import { containersOf, JsonObject, podSpecOf, StackView } from "../constructs/policy";
import { MirrorEntry, MirrorManifest } from "../constructs/registry/private-registry";
import { buildApp } from "../main";

/** One image reference found in a workload, resolved to an ECR repository name where possible. */
export interface RunningImage {
  readonly workload: string;
  readonly container: string;
  readonly image: string;
  /** ECR repository name; undefined when the image is not from this environment's registry. */
  readonly repository: string | undefined;
  readonly tag?: string;
  readonly digest?: string;
}

export interface MirrorPlan {
  readonly environment: string;
  readonly region: string | undefined;
  readonly manifest: MirrorManifest;
  readonly running: RunningImage[];
  /** Workload images the manifest does not cover, one message each. */
  readonly problems: string[];
}

const REMOTE_OUTPUT = /^\$\{data\.terraform_remote_state\.[^.]+\.outputs\.([^}]+)\}/;
const LOCAL_REPOSITORY = /^\$\{(aws_ecr_repository\.[^.]+)\.repository_url\}/;

/** Repository names of ECR repositories by resource address, and the cross-stack outputs that carry their URLs. */
function repositoryIndex(infra: StackView): { byAddress: Map<string, string>; byOutput: Map<string, string> } {
  const byAddress = new Map(infra.ofType("aws_ecr_repository").map((r) => [r.address, String(r.values.name)]));
  const byOutput = new Map<string, string>();
  for (const [name, output] of Object.entries((infra.document.output ?? {}) as Record<string, { value?: unknown }>)) {
    const match = typeof output.value === "string" ? LOCAL_REPOSITORY.exec(output.value) : null;
    if (match && byAddress.has(match[1])) byOutput.set(name, byAddress.get(match[1])!);
  }
  return { byAddress, byOutput };
}

/** Every container image in `stacks`, resolved against the infra stack's ECR repositories. */
export function runningImages(infra: StackView, stacks: StackView[]): RunningImage[] {
  const index = repositoryIndex(infra);
  return stacks.flatMap((stack) =>
    stack.resources.flatMap((r) => {
      const spec = podSpecOf(r.object);
      if (!spec) return [];
      return containersOf(spec, { includeInit: true }).map((c) => {
        const image = String(c.image);
        const remote = REMOTE_OUTPUT.exec(image);
        const local = LOCAL_REPOSITORY.exec(image);
        const repository = remote ? index.byOutput.get(remote[1]) : local ? index.byAddress.get(local[1]) : undefined;
        const { tag, digest } = remote || local ? parseImageReference(image) : {};
        return { workload: r.path, container: c.name ?? "(unnamed)", image, repository, tag, digest };
      });
    }),
  );
}

/** Why `running` is not covered by the manifest, or undefined when it is. */
export function coverageProblem(running: RunningImage, manifest: MirrorManifest): string | undefined {
  const where = `${running.workload} container ${running.container}`;
  if (!running.repository) return `${where} runs ${running.image}, which is not an ECR repository of this environment and so not in the mirror manifest`;
  const entry = manifest.images.find((e) => e.repository === running.repository);
  if (!entry) return `${where} runs repository ${running.repository}, which the mirror manifest lacks`;
  if (running.tag && running.tag !== entry.tag) return `${where} runs ${running.repository}:${running.tag}, but the manifest mirrors tag ${entry.tag}`;
  if (running.digest && entry.digest && running.digest !== entry.digest) return `${where} pins ${running.digest}, but the manifest mirrors ${entry.digest}`;
  return undefined;
}

export function planMirror(envName: string, environmentsDir = process.env.ENVIRONMENTS_DIR ?? "environments"): MirrorPlan {
  const env = loadEnvironments(path.resolve(environmentsDir)).find((e) => e.name === envName);
  if (!env) throw new Error(`unknown environment ${envName}; expected the name of a file in ${environmentsDir}/`);
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "voice-selfhost-mirror-"));
  try {
    const app = buildApp({ environments: [env], outdir, skipValidation: true });
    app.synth();
    const stacks = app.node.children
      .filter((c): c is TerraformStack => TerraformStack.isStack(c))
      .map((s) => new StackView(s.node.id, JSON.parse(fs.readFileSync(path.join(outdir, "stacks", s.node.id, "cdk.tf.json"), "utf8")) as JsonObject));
    const manifestFiles = stacks.map((s) => path.join(outdir, "stacks", s.name, "mirror-manifest.json")).filter((f) => fs.existsSync(f));
    if (manifestFiles.length !== 1) throw new Error(`${envName}: expected one mirror manifest (from the PrivateRegistry), found ${manifestFiles.length}`);
    const manifest = JSON.parse(fs.readFileSync(manifestFiles[0], "utf8")) as MirrorManifest;
    const infra = stacks.find((s) => s.name === path.basename(path.dirname(manifestFiles[0])))!;
    const running = runningImages(infra, stacks);
    const problems = running.map((r) => coverageProblem(r, manifest)).filter((p): p is string => p !== undefined);
    return { environment: envName, region: infra.region, manifest, running, problems };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

/** Shell commands that copy one manifest entry into ECR (`$REGISTRY` is the registry host). */
export function copyCommands(entry: MirrorEntry): string[] {
  const target = `"$REGISTRY/${entry.repository}:${entry.tag}"`;
  if (entry.build) return [`docker build -t ${target} ${entry.build}`, `docker push ${target}`];
  const source = entry.source!.replace(/@sha256:.*$/, "").replace(/:[^/:]+$/, "");
  if (!entry.digest) {
    return [
      `# no digest pinned upstream: resolve it once, record it in constructs/registry/images.ts, then copy by digest`,
      `DIGEST=$(skopeo inspect --format '{{.Digest}}' docker://${entry.source})`,
      `skopeo copy --all "docker://${source}@$DIGEST" docker://${target.slice(1, -1)}`,
    ];
  }
  return [`skopeo copy --all docker://${source}@${entry.digest} "docker://$REGISTRY/${entry.repository}:${entry.tag}"`, `# or: crane copy ${source}@${entry.digest} ${target}`];
}

export function renderPlan(plan: MirrorPlan, account?: string): string {
  const region = plan.region ?? "<region>";
  const registry = account ? `${account}.dkr.ecr.${region}.amazonaws.com` : `$(aws sts get-caller-identity --query Account --output text).dkr.ecr.${region}.amazonaws.com`;
  const out = [
    `# Images of environment ${plan.environment} (${plan.manifest.mode}), from its mirror manifest. Run where both the upstream registries and ECR are reachable.`,
    `REGISTRY="${registry}"`,
    `aws ecr get-login-password --region ${region} | skopeo login --username AWS --password-stdin "$REGISTRY"`,
    "",
  ];
  for (const entry of plan.manifest.images) {
    const users = plan.running.filter((r) => r.repository === entry.repository).map((r) => `${r.workload} (${r.container})`);
    out.push(`# ${entry.name}: ${entry.purpose}`);
    out.push(`#   ${entry.build ? `built here from ${entry.build}/` : `upstream ${entry.source}`} -> ${entry.repository}:${entry.tag}`);
    out.push(`#   run by: ${users.length ? [...new Set(users)].join(", ") : "nothing in the workloads stack yet"}`);
    out.push(...copyCommands(entry), "");
  }
  return out.join("\n");
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const accountAt = args.indexOf("--account");
  const account = accountAt >= 0 ? args.splice(accountAt, 2)[1] : undefined;
  if (args.length !== 1 || (account !== undefined && !/^\d{12}$/.test(account))) {
    console.error("usage: npm run mirror -- <env> [--account <12-digit AWS account id>]");
    process.exit(2);
  }
  try {
    const plan = planMirror(args[0]);
    console.log(renderPlan(plan, account));
    if (plan.problems.length) {
      console.error(`mirror manifest of ${plan.environment} does not cover what its workloads run:\n  - ${plan.problems.join("\n  - ")}`);
      process.exit(1);
    }
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}
