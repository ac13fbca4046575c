/**
 * The published surface on its own: packs the library, installs the tarball and its peers into a
 * scratch CDKTF app outside the repository (from the local npm cache where it can), type-checks the
 * examples against the packed `.d.ts` and synthesizes each of them there.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const repo = path.resolve(__dirname, "../..");
const EXAMPLES = ["new-vpc", "existing-vpc-and-cluster", "airgapped"] as const;
type Example = (typeof EXAMPLES)[number];
type StackJson = { resource?: Record<string, Record<string, Record<string, unknown>>>; data?: Record<string, Record<string, Record<string, unknown>>> };

// A slow, shared machine: packing compiles the library, installing unpacks ~500 MB of providers.
jest.setTimeout(600_000);

let scratch: string;
let app: string;
let packedFiles: string[];

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    return execFileSync(command, args, { cwd, env: { ...process.env, CHECKPOINT_DISABLE: "1", ...env }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(" ")} (in ${cwd}) failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  }
}

const stackJson = (example: Example, stack: string): StackJson =>
  JSON.parse(fs.readFileSync(path.join(app, example, "cdktf.out", "stacks", stack, "cdk.tf.json"), "utf8")) as StackJson;
const types = (json: StackJson) => Object.keys(json.resource ?? {});

beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "voice-selfhost-pack-"));
  app = path.join(scratch, "app");
  fs.mkdirSync(app);

  run("npm", ["pack", "--pack-destination", scratch, "--ignore-scripts=false"], repo);
  const tarball = fs.readdirSync(scratch).find((f) => f.endsWith(".tgz"));
  if (!tarball) throw new Error(`npm pack wrote no tarball to ${scratch}`);
  packedFiles = run("tar", ["-tzf", path.join(scratch, tarball)], scratch).trim().split("\n");

  // The app a platform team would have: the example's dependencies, with the library from the tarball.
  const manifest = JSON.parse(fs.readFileSync(path.join(repo, "examples", "existing-vpc-and-cluster", "package.json"), "utf8")) as Record<string, unknown>;
  const dependencies = { ...(manifest.dependencies as Record<string, string>), "voice-selfhost": `file:${path.join(scratch, tarball)}` };
  fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "scratch-platform-app", private: true, dependencies }, null, 2));
  run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], app, { ONNXRUNTIME_NODE_INSTALL: "skip" });

  for (const example of EXAMPLES) {
    fs.mkdirSync(path.join(app, example));
    fs.copyFileSync(path.join(repo, "examples", example, "main.ts"), path.join(app, example, "main.ts"));
  }
  const tsconfig = JSON.parse(fs.readFileSync(path.join(repo, "examples", "new-vpc", "tsconfig.json"), "utf8")) as { compilerOptions: object };
  fs.writeFileSync(path.join(app, "tsconfig.json"), JSON.stringify({ compilerOptions: tsconfig.compilerOptions, files: EXAMPLES.map((e) => `${e}/main.ts`) }));
  // Type-checks the examples against the packed declarations only (the compiler is the repo's; every import resolves in the app).
  run(process.execPath, [path.join(repo, "node_modules", "typescript", "bin", "tsc"), "-p", app], app);
  for (const example of EXAMPLES) {
    const dir = path.join(app, example);
    run(process.execPath, ["main.js"], dir, { CDKTF_OUTDIR: path.join(dir, "cdktf.out") });
  }
});

afterAll(() => {
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

test("the tarball holds the compiled constructs and nothing of the stacks, environments, scripts or image", () => {
  expect(packedFiles).toContain("package/dist/lib/index.js");
  expect(packedFiles).toContain("package/dist/lib/index.d.ts");
  expect(packedFiles).toContain("package/dist/lib/network/existing-network.d.ts");
  expect(packedFiles).toContain("package/UPGRADING.md");
  for (const file of packedFiles) expect(file).toMatch(/^package\/(dist\/lib\/.+\.(js|d\.ts)|package\.json|README\.md|UPGRADING\.md)$/);
  expect(packedFiles.some((f) => /stacks|environments|scripts|inference-image|main\.js/.test(f))).toBe(false);
});

test("the app resolves the library and one copy of each peer from its own node_modules", () => {
  const resolve = (request: string) => run(process.execPath, ["-p", `require.resolve(${JSON.stringify(request)})`], app).trim();
  expect(resolve("voice-selfhost")).toBe(path.join(fs.realpathSync(app), "node_modules", "voice-selfhost", "dist", "lib", "index.js"));
  for (const peer of ["cdktf", "constructs", "@cdktf/provider-aws", "@cdktf/provider-kubernetes"]) {
    expect(fs.existsSync(path.join(app, "node_modules", "voice-selfhost", "node_modules", peer))).toBe(false);
  }
  // Only the package root is exported: internal paths are not part of the API.
  expect(() => resolve("voice-selfhost/dist/lib/cluster/private/pools")).toThrow(/ERR_PACKAGE_PATH_NOT_EXPORTED/);
});

test("(b) existing VPC and cluster: node groups on the cluster read by name, workloads in the same stack, no network or cluster created", () => {
  const json = stackJson("existing-vpc-and-cluster", "speech-on-shared-cluster");
  expect(Object.values(json.data!.aws_eks_cluster).map((d) => d.name)).toEqual(["platform-eks"]);
  expect(Object.values(json.data!.aws_ecr_repository).map((d) => d.name)).toEqual(["platform/nvidia/k8s-device-plugin"]);
  const groups = Object.values(json.resource!.aws_eks_node_group);
  expect(groups.map((g) => g.subnet_ids)).toEqual([["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]]);
  expect(String(groups[0].cluster_name)).toMatch(/^\$\{data\.aws_eks_cluster\./);
  for (const created of ["aws_vpc", "aws_subnet", "aws_eks_cluster", "aws_vpc_endpoint"]) expect(types(json)).not.toContain(created);
  const kinds = Object.values(json.resource!.kubernetes_manifest).map((m) => (m.manifest as { kind: string }).kind);
  expect(kinds).toEqual(expect.arrayContaining(["Deployment", "StatefulSet", "DaemonSet", "NetworkPolicy", "Service"]));
  expect(fs.existsSync(path.join(app, "existing-vpc-and-cluster", "cdktf.out", "stacks", "speech-on-shared-cluster", "mirror-manifest.json"))).toBe(true);
});

test("(a) new VPC: network, cluster, registry, load balancer and the workloads stack", () => {
  const infra = stackJson("new-vpc", "platform-infra");
  expect(types(infra)).toEqual(expect.arrayContaining(["aws_vpc", "aws_nat_gateway", "aws_eks_cluster", "aws_eks_node_group", "aws_ecr_repository", "aws_lb", "aws_s3_bucket"]));
  const workloads = stackJson("new-vpc", "platform-workloads");
  expect(Object.keys(workloads.resource!.kubernetes_manifest).length).toBeGreaterThan(5);
});

test("(c) air-gapped: no route out, every endpoint, pulls pinned to the ECR endpoints", () => {
  const infra = stackJson("airgapped", "isolated-infra");
  for (const absent of ["aws_internet_gateway", "aws_nat_gateway", "aws_egress_only_internet_gateway", "aws_route"]) expect(types(infra)).not.toContain(absent);
  expect(Object.keys(infra.resource!.aws_vpc_endpoint)).toHaveLength(14);
  expect(JSON.stringify(infra)).toContain("aws:sourceVpce");
  expect(Object.keys(stackJson("airgapped", "isolated-workloads").resource!.kubernetes_manifest).length).toBeGreaterThan(5);
});
