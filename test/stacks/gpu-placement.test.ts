/**
 * What runs where: inference pods ask for a GPU only when an engine can use one, GPU pools that no
 * service's engines use are a policy finding (VS-EKS-005) unless acknowledged, and the review's cost
 * section marks them unused. Built from dev's environment file with the changes each case names.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildApp } from "../../main";
import { parseEnvironment } from "../../app";
import { StackView } from "../../constructs/policy";
import { GPU_POOL_CPU_ENGINES_TAG, GPU_POOL_USE_TAG, GPU_RESOURCE, GPU_TAINT } from "../../constructs/private/names";
import { estimateCost } from "../../scripts/report/cost";
import { review } from "../../scripts/review";
import { find, isInference, KubeObj, kubeObjects, StackJson } from "../workloads/support";

const dev = JSON.parse(fs.readFileSync(path.resolve(__dirname, "../../environments/dev.json"), "utf8")) as Record<string, any>;
const outdirs: string[] = [];
afterAll(() => outdirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function synth(document: Record<string, any>): Record<string, StackJson> {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "gpu-placement-"));
  outdirs.push(outdir);
  buildApp({ outdir, environments: [parseEnvironment(document, "dev.json")] }).synth();
  const read = (name: string) => JSON.parse(fs.readFileSync(path.join(outdir, "stacks", name, "cdk.tf.json"), "utf8")) as StackJson;
  return { infra: read("dev-infra"), workloads: read("dev-workloads") };
}

const inferencePod = (workloads: StackJson): any => {
  const [deployment] = find(kubeObjects(workloads), "Deployment").filter(isInference) as KubeObj[];
  return deployment.spec.template.spec;
};
const nodeGroups = (infra: StackJson): Record<string, any>[] => Object.values((infra.resource as Record<string, Record<string, any>>).aws_eks_node_group);
const gpuPoolCost = (infra: StackJson) => estimateCost(new StackView("dev-infra", infra as never)).lines.find((l) => l.item.startsWith("node pool pool-gpu-a10g"));

test("CPU engines (dev as shipped): no nvidia.com/gpu, no GPU toleration, the system pool; its GPU pool is acknowledged, tagged unused and shown unused in the cost review", () => {
  const { infra, workloads } = synth(dev);
  const pod = inferencePod(workloads);
  expect(JSON.stringify(pod)).not.toContain(GPU_RESOURCE);
  expect(pod.tolerations).toBeUndefined();
  expect(pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions).toEqual([{ key: "voice-selfhost.io/node-role", operator: "In", values: ["system"] }]);
  const gpuGroup = nodeGroups(infra).find((g) => g.tags[GPU_POOL_USE_TAG] !== undefined)!;
  expect(gpuGroup.tags[GPU_POOL_USE_TAG]).toBe("none");
  expect(gpuPoolCost(infra)?.note).toContain("UNUSED: no workload's engines use a GPU (VS-EKS-005)");
  // The load balancer targets the system pool's nodes, where the pods are.
  const attachments = Object.values((infra.resource as Record<string, Record<string, any>>).aws_autoscaling_attachment).map((a) => String(a.autoscaling_group_name));
  expect(attachments).toEqual(dev.availabilityZones.map((zone: string) => expect.stringContaining(`pool-system-${zone}`)));
});

test("CPU engines with the GPU pool not acknowledged: synth fails with VS-EKS-005 naming the pool", () => {
  const { policy: _policy, ...unacknowledged } = dev;
  expect(() => synth(unacknowledged)).toThrow(/VS-EKS-005 dev-infra\/cluster\/pool-gpu-a10g\/node-group .*no inference service's engines use a GPU, so its nodes would sit idle/);
});

test("STT set to cuda with an image that declares its CUDA runtime: the request, the toleration and the GPU pool; the pool is used, so no finding and no unused line", () => {
  const { policy: _policy, ...rest } = dev;
  const cuda = { ...rest, workloads: { ...rest.workloads, image: { cudaRuntime: true }, models: { stt: { engine: "sherpa-whisper", provider: "cuda", location: "/opt/models/whisper-small" } } } };
  const { infra, workloads } = synth(cuda);
  const pod = inferencePod(workloads);
  expect(pod.containers[0].resources.requests[GPU_RESOURCE]).toBe("1");
  expect(pod.containers[0].resources.limits[GPU_RESOURCE]).toBe("1");
  expect(pod.tolerations).toEqual([{ key: GPU_TAINT.key, operator: "Equal", value: GPU_TAINT.value, effect: GPU_TAINT.effect }]);
  expect(pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions).toEqual([{ key: "voice-selfhost.io/pool", operator: "In", values: ["gpu-a10g"] }]);
  const config = find(kubeObjects(workloads), "ConfigMap", "inference-config")[0].data!;
  expect(config).toMatchObject({ STT_ENGINE: "sherpa-whisper", STT_PROVIDER: "cuda", TTS_PROVIDER: "cpu" });
  expect(nodeGroups(infra).find((g) => g.tags[GPU_POOL_USE_TAG] !== undefined)!.tags[GPU_POOL_USE_TAG]).toBe("inference");
  expect(gpuPoolCost(infra)?.note ?? "").not.toContain("UNUSED");
  expect(estimateCost(new StackView("dev-infra", infra as never)).unusedMax).toBe(0);
});

test("cuda with an image that has no CUDA runtime is refused at synth: the server would not start", () => {
  const whisper = (provider: string) => ({ ...dev, workloads: { ...dev.workloads, models: { stt: { engine: "sherpa-whisper", provider, location: "/opt/models/whisper-small" } } } });
  expect(() => synth(whisper("cuda"))).toThrow(/workloads\.models\.stt\.provider.*expected "cpu" or "auto": the image declares no CUDA runtime/);
});

test("auto on a GPU pool with the CPU-only image (main's prod): a synth error (VS-K8S-016) unless acknowledged, and then the cost review counts the GPUs idle", () => {
  const { policy: _policy, ...rest } = dev;
  const auto = { ...rest, workloads: { ...rest.workloads, models: { stt: { engine: "sherpa-whisper", provider: "auto", location: "/opt/models/whisper-small" } } } };
  expect(() => synth(auto)).toThrow(/VS-K8S-016 dev-workloads\/inference\/deployment .*requests nvidia\.com\/gpu but its engines run on the CPU \(STT_PROVIDER=auto, TTS_PROVIDER=cpu; the image declares no CUDA runtime\)/);
  const acknowledged = { ...auto, policy: { acknowledgements: [{ rule: "VS-K8S-016", resource: "dev-workloads/inference", reason: "rehearsing the GPU node path until the CUDA image is built" }] } };
  const { infra, workloads } = synth(acknowledged);
  expect(inferencePod(workloads).containers[0].resources.requests[GPU_RESOURCE]).toBe("1");
  const group = nodeGroups(infra).find((g) => g.tags[GPU_POOL_USE_TAG] !== undefined)!;
  expect(group.tags).toMatchObject({ [GPU_POOL_USE_TAG]: "inference", [GPU_POOL_CPU_ENGINES_TAG]: "inference" });
  const line = gpuPoolCost(infra)!;
  expect(line).toMatchObject({ unused: true, note: expect.stringContaining("CPU ENGINES: inference hold these GPUs but run on the CPU (VS-K8S-016)") });
  expect(estimateCost(new StackView("dev-infra", infra as never)).unusedMax).toBeGreaterThanOrEqual(line.monthlyMax);
});

test("CPU engines on GPU nodes only with a stated reason; a built-in engine cannot be set to cuda", () => {
  const onGpu = (reason: string) => ({ ...dev, workloads: { ...dev.workloads, inference: { ...dev.workloads.inference, cpuEnginesOnGpu: { reason } } } });
  expect(() => synth(onGpu("because"))).toThrow(/cpuEnginesOnGpu.reason.*at least 20 characters/);
  const { workloads } = synth(onGpu("dev rehearses the GPU node path prod uses, on purpose"));
  expect(inferencePod(workloads).containers[0].resources.requests[GPU_RESOURCE]).toBe("1");
  expect(() => synth({ ...dev, workloads: { models: { stt: { engine: "pocketsphinx", provider: "cuda" } } } })).toThrow(/stt.provider.*expected "cpu": pocketsphinx runs on the CPU only/);
});

test("the review of dev (as shipped) shows the acknowledged finding and the unused GPU capacity in its cost section", () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "gpu-placement-review-"));
  outdirs.push(out);
  const infra = review({ environments: ["dev"], out, environmentsDir: path.resolve(__dirname, "../../environments") }).reports.find((r) => r.stack === "dev-infra")!;
  expect(infra.policy.acknowledged.filter((f) => f.rule === "VS-EKS-005")).toEqual([expect.objectContaining({ path: "dev-infra/cluster/pool-gpu-a10g/node-group" })]);
  // A Spot pool of 0-2 g5.xlarge: nothing at its minimum, two nodes and their volumes at its maximum.
  expect(infra.cost.unusedMin).toBe(0);
  expect(infra.cost.unusedMax).toBeCloseTo(infra.cost.lines.filter((l) => l.path.includes("pool-gpu-a10g")).reduce((sum, l) => sum + l.monthlyMax, 0), 2);
  expect(infra.cost.unusedMax).toBeGreaterThan(1000);
  const md = fs.readFileSync(path.join(out, "dev-infra.md"), "utf8");
  expect(md).toMatch(/\| of which unused GPU capacity \| \| \| \$0\.00 \| \$[\d,]+\.\d\d \| GPU pools no workload's engines use \(VS-EKS-005\) or only CPU engines hold \(VS-K8S-016\) \|/);
  expect(md).toContain("| VS-EKS-005 | `dev-infra/cluster/pool-gpu-a10g/node-group` | GPU pool pool-gpu-a10g: no inference service's engines use a GPU");
});
