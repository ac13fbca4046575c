/**
 * The examples, synthesized from the library's source (the packed library gets the same in
 * test/package/pack.test.ts): what each one deploys must work, not only compile.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const EXAMPLES = ["new-vpc", "existing-vpc-and-cluster", "airgapped"];
type Res = Record<string, any>;
type StackJson = { resource?: Record<string, Record<string, Res>>; output?: Record<string, { value: unknown }> };

let scratch: string;
const synthesized: Record<string, Record<string, StackJson>> = {};

beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "examples-"));
  for (const example of EXAMPLES) {
    const outdir = path.join(scratch, example);
    process.env.CDKTF_OUTDIR = outdir;
    jest.isolateModules(() => require(path.resolve(__dirname, "../../examples", example, "main.ts")));
    synthesized[example] = Object.fromEntries(
      fs.readdirSync(path.join(outdir, "stacks")).map((stack) => [stack, JSON.parse(fs.readFileSync(path.join(outdir, "stacks", stack, "cdk.tf.json"), "utf8")) as StackJson]),
    );
  }
  delete process.env.CDKTF_OUTDIR;
}, 120_000);

afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

const all = (example: string, type: string): Res[] => Object.values(synthesized[example]).flatMap((stack) => Object.values(stack.resource?.[type] ?? {}));
const manifests = (example: string): Res[] => all(example, "kubernetes_manifest").map((m) => m.manifest);

/** The tag keys the autoscaler Deployments discover node groups by (`--node-group-auto-discovery=asg:tag=k1,k2`). */
function autoscalerDiscovery(example: string): { tagKeys: string[]; serviceAccount: string; namespace: string }[] {
  return manifests(example)
    .filter((m) => m.kind === "Deployment")
    .flatMap((d) => {
      const flag = (d.spec.template.spec.containers as { command?: string[] }[]).flatMap((c) => c.command ?? []).find((a) => a.startsWith("--node-group-auto-discovery=asg:tag="));
      return flag ? [{ tagKeys: flag.slice("--node-group-auto-discovery=asg:tag=".length).split(","), serviceAccount: d.spec.template.spec.serviceAccountName, namespace: d.metadata.namespace }] : [];
    });
}

describe.each(EXAMPLES)("examples/%s", (example) => {
  test("every key names its administrators apart from its users; the account root may only recover it", () => {
    const policies = all(example, "aws_kms_key_policy").map((p) => JSON.parse(p.policy).Statement as { Sid: string; Action: string | string[] }[]);
    expect(policies.length).toBe(all(example, "aws_kms_key").length);
    for (const statements of policies) {
      expect(statements.find((s) => s.Sid === "AccountAdministers")).toBeUndefined();
      expect(statements.find((s) => s.Sid === "AccountRecoversKeyPolicy")?.Action).toEqual(["kms:PutKeyPolicy", "kms:GetKeyPolicy", "kms:DescribeKey"]);
      expect(statements.map((s) => s.Sid)).toEqual(expect.arrayContaining(["KeyAdministrators", "KeyUsers"]));
    }
  });

  test("every node pool with minSize 0 has a cluster autoscaler that discovers it and a Pod Identity role to scale it with", () => {
    const fromZero = all(example, "aws_eks_node_group").filter((g) => g.scaling_config.min_size === 0);
    const autoscalers = autoscalerDiscovery(example);
    const associations = all(example, "aws_eks_pod_identity_association");
    for (const group of fromZero) {
      const scaler = autoscalers.find((a) => a.tagKeys.every((key) => key in (group.tags ?? {})));
      expect({ nodeGroup: group.node_group_name_prefix ?? group.node_group_name, autoscaler: scaler ? "found" : "none" }).toEqual(expect.objectContaining({ autoscaler: "found" }));
      expect(associations.some((a) => a.namespace === scaler!.namespace && a.service_account === scaler!.serviceAccount)).toBe(true);
    }
  });

  test("the inference pods admit what the load balancer delivers: every client CIDR of its security group", () => {
    const clients = all(example, "aws_vpc_security_group_ingress_rule").filter((r) => String(r.description).startsWith("Clients "));
    const admitted = manifests(example)
      .filter((m) => m.kind === "NetworkPolicy" && String(m.metadata.name).endsWith("-ingress") && m.spec.ingress.some((r: Res) => r.from.some((f: Res) => f.ipBlock)))
      .flatMap((p) => p.spec.ingress.flatMap((r: Res) => r.from.flatMap((f: Res) => (f.ipBlock ? [f.ipBlock.cidr] : []))));
    expect(clients.length).toBeGreaterThan(0);
    for (const rule of clients) expect(admitted).toContain(rule.cidr_ipv4);
    expect(all(example, "aws_lb_target_group").every((g) => g.preserve_client_ip === "true")).toBe(true);
  });
});

test("air-gapped example: Whisper comes from its model image in the registry, copied in with no network; the bucket's only reader is the builder", () => {
  const deployment = manifests("airgapped").find((m) => m.kind === "Deployment" && m.metadata.name === "inference")!;
  const [copy] = deployment.spec.template.spec.initContainers as { image: string; command: string[] }[];
  // The model image by digest, through the infra stack's outputs (the workloads stack reads its repository URL).
  expect(copy.image).toMatch(/@sha256:1{64}$/);
  expect(copy.command.join(" ")).toContain("/opt/model/.");
  const infra = synthesized.airgapped["isolated-infra"].resource!;
  expect(Object.keys(infra.aws_ecr_repository).some((k) => String(infra.aws_ecr_repository[k].name).endsWith("/models/stt"))).toBe(true);
  // No serving pod has an AWS identity to read the bucket with: no Pod Identity association for the inference server.
  expect(Object.values(infra.aws_eks_pod_identity_association ?? {}).map((a) => a.service_account)).not.toContain("inference-server");
});

test("the device plugin DaemonSet runs on the clusters' AL2023 pools only (Bottlerocket ships it on the host)", () => {
  const devicePlugin = (example: string) => manifests(example).find((m) => m.kind === "DaemonSet" && m.metadata.name === "nvidia-device-plugin");
  expect(devicePlugin("airgapped")).toBeUndefined();
  const pools = (example: string) =>
    devicePlugin(example)!.spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms.flatMap((t: Res) => t.matchExpressions.flatMap((e: Res) => e.values));
  expect(pools("existing-vpc-and-cluster")).toEqual(["speech-l4"]);
  expect(pools("new-vpc")).toEqual(["gpu"]);
});
