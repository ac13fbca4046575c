/** `npm run review` and `npm run mirror`: reports, baseline diffs, cost, and the compiled synth on an insecure environment file. */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { JsonObject, StackView } from "../../constructs/policy";
import { diffStacks, PRICE_TABLE } from "../../scripts/report";
import { buildApp } from "../../main";
import { coverageProblem, planMirror, runningImages } from "../../scripts/mirror";
import { review } from "../../scripts/review";
import { container, deployment } from "../policy/fixtures";

const root = path.join(__dirname, "..", "..");
const environments = path.join(root, "environments");
let work: string;
beforeEach(() => (work = fs.mkdtempSync(path.join(os.tmpdir(), "review-test-"))));
afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

function copyEnvironments(edit?: (prod: Record<string, any>) => void): string {
  const dir = path.join(work, `envs-${Math.random().toString(36).slice(2)}`);
  fs.mkdirSync(dir);
  for (const f of fs.readdirSync(environments)) fs.copyFileSync(path.join(environments, f), path.join(dir, f));
  if (edit) {
    const prod = JSON.parse(fs.readFileSync(path.join(dir, "prod.json"), "utf8"));
    edit(prod);
    fs.writeFileSync(path.join(dir, "prod.json"), JSON.stringify(prod));
  }
  return dir;
}

describe("review", () => {
  test("writes a Markdown and a JSON report per stack of prod, with policy, cost estimate and a Mermaid topology", () => {
    const out = path.join(work, "reports");
    const { reports, files } = review({ environments: ["prod"], out, environmentsDir: environments });
    expect(files.map((f) => path.basename(f)).sort()).toEqual(["prod-data.json", "prod-data.md", "prod-infra.json", "prod-infra.md", "prod-workloads.json", "prod-workloads.md"]);
    const infra = JSON.parse(fs.readFileSync(path.join(out, "prod-infra.json"), "utf8"));
    expect(infra.policy.violations).toEqual([]);
    expect(infra.cost.priceDate).toBe(PRICE_TABLE.asOf);
    expect(infra.cost.totalMax).toBeGreaterThan(infra.cost.totalMin);
    expect(infra.resources.map((g: { construct: string }) => g.construct)).toEqual(expect.arrayContaining(["prod-infra/network", "prod-infra/cluster"]));
    const md = fs.readFileSync(path.join(out, "prod-infra.md"), "utf8");
    expect(md).toContain("## Policy: **PASS**");
    expect(md).toContain("ESTIMATE");
    expect(md).toMatch(/```mermaid\nflowchart LR\n[\s\S]*eks\["EKS 1\.35 · API private only"\][\s\S]*license\(\["vendor license server 203\.0\.113\.0\/24"\]\)/);
    const workloads = fs.readFileSync(path.join(out, "prod-workloads.md"), "utf8");
    expect(workloads).toMatch(/\| VS-K8S-008 \| `prod-workloads\/gpu\/device-plugin` \|.*kubelet.*\| code \|/);
    // The reviewer sees which operator-created Secret holds the API keys (the teams document).
    expect(workloads).toMatch(/kind=Deployment; name=voice-selfhost\/inference;.*secrets=api-keys=inference-api-keys/);
    expect(reports.find((r) => r.stack === "prod-workloads")!.diff).toBeNull();
    // Each environment's models: engine, where the weights come from, provider.
    expect(reports.find((r) => r.stack === "prod-workloads")!.models).toEqual([
      { service: "inference", kind: "stt", engine: "sherpa-whisper", location: "s3://<model bucket>/models/whisper-small/ (copied to /models/stt)", provider: "cpu" },
      { service: "inference", kind: "tts", engine: "flite", location: "built in", provider: "cpu" },
    ]);
    expect(reports.find((r) => r.stack === "prod-infra")!.models).toEqual([]);
    expect(workloads).toContain("| inference | stt | sherpa-whisper | s3://<model bucket>/models/whisper-small/ (copied to /models/stt) | cpu |");
    // Placeholders are review findings, not synth errors: the shipped file synthesizes, and the reviewer sees what to fill in.
    expect(infra.readiness.map((f: { field: string }) => f.field)).toEqual(expect.arrayContaining(["cluster.adminPrincipalArns[0]", "ingress.certificateArn", "stateBackend.bucket", "license.serverUrl"]));
    // Six of the deploy's own, and the perimeter's: two key administrators, a key user, the mirror role, the organisation.
    expect(md).toContain("## Deploy readiness: **11 to fix before an apply**");
    expect(md).toMatch(/\| placeholder \| `stateBackend\.bucket` \| account 111122223333 is a documentation placeholder/);
  }, 120_000);

  test("a change to one node pool's max size shows in the diff and in the cost estimate", () => {
    const baseline = path.join(work, "baseline.out");
    process.env.ENVIRONMENTS_DIR = environments;
    buildApp({ outdir: baseline }).synth();
    delete process.env.ENVIRONMENTS_DIR;
    const before = review({ environments: ["prod"], out: path.join(work, "r0"), environmentsDir: environments, baseline }).reports.find((r) => r.stack === "prod-infra")!;
    expect(before.diff).toMatchObject({ added: [], removed: [], forgotten: [], changed: [], statefulRisks: [] });

    const changedDir = copyEnvironments((prod) => (prod.nodePools.gpu[0].maxSize = 16));
    const after = review({ environments: ["prod"], out: path.join(work, "r1"), environmentsDir: changedDir, baseline }).reports.find((r) => r.stack === "prod-infra")!;
    expect(after.diff!.changed).toEqual([
      expect.objectContaining({ path: "prod-infra/cluster/pool-gpu-a10g/node-group", attributes: [expect.objectContaining({ attribute: "scaling_config.max_size", before: 12, after: 16, forcesReplacement: false })] }),
    ]);
    const eu = PRICE_TABLE.regions["eu-west-1"];
    const perNode = eu.instances["g5.2xlarge"] * PRICE_TABLE.hoursPerMonth + 200 * eu.gp3PerGiBMonth;
    expect(after.cost.totalMax - before.cost.totalMax).toBeCloseTo(4 * perNode, 1);
    expect(after.cost.totalMin).toBe(before.cost.totalMin);
    const md = fs.readFileSync(path.join(work, "r1", "prod-infra.md"), "utf8");
    expect(md).toContain("| changed | `prod-infra/cluster/pool-gpu-a10g/node-group` | aws_eks_node_group | `scaling_config.max_size`: 12 → 16 |");
  }, 180_000);

  test("the diff flags stateful resources that a change destroys or replaces", () => {
    const doc = (repoName: string, withBucket: boolean): JsonObject => ({
      resource: {
        aws_ecr_repository: { repo: { name: repoName, "//": { metadata: { path: "s/registry/repo" } } } },
        aws_lb: { lb: { internal: true, "//": { metadata: { path: "s/lb" } } } },
        ...(withBucket ? { aws_s3_bucket: { models: { bucket_prefix: "m-", "//": { metadata: { path: "s/models" } } } } } : {}),
      },
    });
    const diff = diffStacks(doc("a/server", true), doc("b/server", false), "s");
    expect(diff.statefulRisks).toEqual([
      expect.objectContaining({ action: "destroy", path: "s/models", type: "aws_s3_bucket" }),
      expect.objectContaining({ action: "replace", path: "s/registry/repo", attributes: ["name"] }),
    ]);
    expect(diffStacks(undefined, doc("a", false), "s")).toMatchObject({ baselineHadStack: false, removed: [], changed: [] });
  });

  test("a resource renamed by a moved block is one move, not a destroy and an add", () => {
    const key = (name: string, attrs: Record<string, unknown>) => ({ aws_kms_key: { [name]: { enable_key_rotation: true, ...attrs, "//": { metadata: { path: "s/key" } } } } });
    const before: JsonObject = { resource: key("old_key", { policy: "{}" }) };
    const moved: JsonObject = { resource: key("new_key", {}), moved: [{ from: "aws_kms_key.old_key", to: "aws_kms_key.new_key" }] };
    expect(diffStacks(before, moved, "s")).toMatchObject({
      added: [],
      removed: [],
      statefulRisks: [],
      changed: [{ address: "aws_kms_key.new_key", movedFrom: "aws_kms_key.old_key", attributes: [expect.objectContaining({ attribute: "policy", before: "{}", after: undefined })] }],
    });
    // Without the moved block the same rename destroys the key.
    const renamed: JsonObject = { resource: key("new_key", {}) };
    expect(diffStacks(before, renamed, "s").statefulRisks).toEqual([expect.objectContaining({ action: "destroy", address: "aws_kms_key.old_key" })]);
  });

  test("a resource a removed block keeps (destroy = false) is no longer managed, not removed", () => {
    const tag = (name: string) => ({ [name]: { tag: { key: "k8s.io/cluster-autoscaler/enabled", value: "true" }, "//": { metadata: { path: `s/${name}` } } } });
    const before: JsonObject = { resource: { aws_autoscaling_group_tag: { ...tag("kept"), ...tag("dropped") } } };
    const current: JsonObject = { resource: {}, removed: [{ from: "aws_autoscaling_group_tag.kept", lifecycle: { destroy: false } }] };
    const diff = diffStacks(before, current, "s");
    expect(diff.forgotten.map((r) => r.address)).toEqual(["aws_autoscaling_group_tag.kept"]);
    expect(diff.removed.map((r) => r.address)).toEqual(["aws_autoscaling_group_tag.dropped"]);
  });
});

describe("mirror", () => {
  test("lists every image airgapped-workloads runs, each covered by the mirror manifest", () => {
    const plan = planMirror("airgapped", environments);
    expect(plan.problems).toEqual([]);
    const workloads = JSON.parse(
      (() => {
        const out = path.join(work, "out");
        process.env.ENVIRONMENTS_DIR = environments;
        buildApp({ outdir: out, skipValidation: true }).synth();
        delete process.env.ENVIRONMENTS_DIR;
        return fs.readFileSync(path.join(out, "stacks", "airgapped-workloads", "cdk.tf.json"), "utf8");
      })(),
    );
    const images = new StackView("airgapped-workloads", workloads).resources.flatMap((r) => {
      const spec = r.object?.spec as { template?: { spec?: { containers?: { image: string }[]; initContainers?: { image: string }[] } } } | undefined;
      return [...(spec?.template?.spec?.containers ?? []), ...(spec?.template?.spec?.initContainers ?? [])].map((c) => c.image);
    });
    expect(images.length).toBeGreaterThan(0);
    expect(plan.running.map((r) => r.image).sort()).toEqual(images.sort());
    for (const r of plan.running) expect(plan.manifest.images.map((e) => e.repository)).toContain(r.repository);
  }, 120_000);

  test("a workload image the manifest lacks is a problem, named with its workload", () => {
    const plan = planMirror("airgapped", environments);
    const infra = new StackView("airgapped-infra", { resource: {}, output: {} });
    const publicImage = new StackView("w", { resource: { kubernetes_manifest: { x: { ...deployment("x", { containers: [container({ image: "docker.io/library/redis:7" })] }), "//": { metadata: { path: "w/x" } } } } } });
    const [running] = runningImages(infra, [publicImage]);
    expect(coverageProblem(running, plan.manifest)).toMatch(/^w\/x container app runs docker\.io\/library\/redis:7, which is not an ECR repository/);
    const wrongTag = { ...plan.running[0], tag: "9.9.9", digest: undefined };
    expect(coverageProblem(wrongTag, plan.manifest)).toMatch(/but the manifest mirrors tag/);
  }, 120_000);
});

describe("compiled synth on an insecure environment file (dist/scripts/synth.js)", () => {
  const synthJs = path.join(root, "dist", "scripts", "synth.js");
  const synth = (dir: string, outdir: string) =>
    spawnSync(process.execPath, [synthJs], { cwd: root, env: { ...process.env, ENVIRONMENTS_DIR: dir, CDKTF_OUTDIR: outdir, CHECKPOINT_DISABLE: "1" }, encoding: "utf8", timeout: 120_000 });
  const write = (doc: object) => {
    const dir = fs.mkdtempSync(path.join(work, "envs-"));
    fs.writeFileSync(path.join(dir, "insecure.json"), JSON.stringify(doc));
    return dir;
  };
  const prod = () => {
    const doc = JSON.parse(fs.readFileSync(path.join(environments, "prod.json"), "utf8"));
    // Without prod's acknowledgements, which name prod's paths: its unused gpu-l40s pool is left out, and its gpu-a10g pool is
    // used (Whisper on auto, with an image declared to carry the CUDA runtime) so that VS-EKS-005 has nothing to find.
    const stt = { ...doc.workloads.models.stt, provider: "auto" };
    const workloads = { ...doc.workloads, image: { cudaRuntime: true }, models: { ...doc.workloads.models, stt } };
    return { ...doc, name: "insecure", stateBackend: { ...doc.stateBackend, key: "voice-selfhost/insecure" }, nodePools: { ...doc.nodePools, gpu: doc.nodePools.gpu.slice(0, 1) }, workloads, policy: undefined };
  };
  beforeAll(() => {
    if (!fs.existsSync(synthJs)) throw new Error(`${synthJs} is missing: run \`npm run build\` first (npm test does)`);
  });

  test("the schema refuses a public endpoint in air-gapped mode and 0.0.0.0/0 clients, naming the fields", () => {
    const air = JSON.parse(fs.readFileSync(path.join(environments, "airgapped.json"), "utf8"));
    const result = synth(write({ ...air, name: "insecure", allowedClientCidrs: ["0.0.0.0/0"], cluster: { ...air.cluster, publicEndpoint: { enabled: true, cidrs: ["198.51.100.0/24"] } } }), path.join(work, "out"));
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('field "allowedClientCidrs[0]"');
    expect(result.stderr).toContain('field "cluster.publicEndpoint.enabled"');
  }, 120_000);

  test("a public endpoint the schema allows fails on policy with the rule id; acknowledging it lets it through and the review shows it", () => {
    const doc = prod();
    doc.cluster = { ...doc.cluster, publicEndpoint: { enabled: true, cidrs: ["198.51.100.0/24"] } };
    const outdir = path.join(work, "out");
    const failed = synth(write(doc), outdir);
    expect(failed.status).not.toBe(0);
    expect(failed.stderr).toMatch(/VS-EKS-001 insecure-infra\/cluster\/cluster \(aws_eks_cluster\.\S+\): endpoint_public_access is true\. .* Fix: /);
    expect(fs.existsSync(outdir)).toBe(false);

    const reason = "operators reach the API from the SOC range only, approved in CHG-4711";
    doc.policy = { acknowledgements: [{ rule: "VS-EKS-001", resource: "insecure-infra/cluster", reason }] };
    const dir = write(doc);
    const passed = synth(dir, outdir);
    expect({ status: passed.status, stderr: passed.stderr }).toMatchObject({ status: 0 });
    const infra = review({ environments: ["insecure"], out: path.join(work, "reports"), environmentsDir: dir }).reports.find((r) => r.stack === "insecure-infra")!;
    // Besides the file's exception, the network's own: the endpoints of services with no documented endpoint policy.
    expect(infra.policy.acknowledged).toEqual([
      expect.objectContaining({ rule: "VS-EKS-001", acknowledgement: expect.objectContaining({ reason, source: "environments/insecure.json" }) }),
      ...["ec2messages", "eks-auth", "ssmmessages"].map((service) =>
        expect.objectContaining({ rule: "VS-NET-005", path: `insecure-infra/network/endpoint-${service}`, acknowledgement: expect.objectContaining({ source: "code" }) }),
      ),
      // And the load balancer's: target groups on the managed node groups' Auto Scaling groups, one per pool.
      ...["pool-gpu-a10g"].map((pool) => expect.objectContaining({ rule: "VS-LB-004", message: expect.stringContaining(`insecure-infra/cluster/${pool}/node-group`), acknowledgement: expect.objectContaining({ source: "code" }) })),
    ]);
    expect(fs.readFileSync(path.join(work, "reports", "insecure-infra.md"), "utf8")).toContain(`| VS-EKS-001 | \`insecure-infra/cluster/cluster\` | endpoint_public_access is true | ${reason} | environments/insecure.json |`);
  }, 180_000);
});
