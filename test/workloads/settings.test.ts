/** The `workloads` section of environment files: defaults, and bad configs that fail at synth naming the file and the field. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigError, loadEnvironmentFile } from "../../app";
import { buildApp } from "../../main";
import { find, isInference, kubeObjects, StackJson, validateKubeObject } from "./support";

const base = JSON.parse(fs.readFileSync(path.resolve(__dirname, "../../environments/staging.json"), "utf8")) as Record<string, unknown>;
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "workloads-config-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Writes `staging.json` with the given workloads section and loads it the way main.ts does. */
function load(workloads: unknown) {
  const file = path.join(dir, "staging.json");
  fs.writeFileSync(file, JSON.stringify({ ...base, workloads }));
  return { file, load: () => loadEnvironmentFile(file) };
}

function problems(workloads: unknown): string[] {
  const { load: run } = load(workloads);
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error("expected the workloads section to be rejected");
}

test("no workloads section: one combined service with a GPU per pod on the first GPU pool, built-in engines, two proxies", () => {
  const env = load(undefined).load();
  expect(env.workloads.split).toBe(false);
  expect(env.workloads.inference).toMatchObject({ gpusPerPod: 1, replicas: { min: 2, max: 6 }, resources: { requests: { cpu: "2", memory: "8Gi" }, limits: { cpu: "4", memory: "16Gi" } } });
  expect(env.workloads.models).toMatchObject({ source: "image", stt: { engine: "pocketsphinx" }, tts: { engine: "flite" } });
  expect(env.workloads.licenseProxy.replicas).toBe(2);
  expect(env.workloads.metricsScraperNamespace).toBe("monitoring");
});

test.each([
  ["GPU count 0 on a GPU pool", { inference: { gpusPerPod: 0 } }, 'field "workloads.inference.gpusPerPod": expected at least 1 GPU per pod'],
  ["memory limit below request", { inference: { resources: { requests: { memory: "8Gi" }, limits: { memory: "4Gi" } } } }, 'field "workloads.inference.resources.limits.memory": expected a memory limit >= the request (8Gi)'],
  ["unknown pool", { inference: { pool: "gpu-h100", cpuEnginesOnGpu: { reason: "rehearsing the GPU node path on purpose" } } }, 'field "workloads.inference.pool": expected one of the environment\'s GPU pools ("gpu-l4")'],
  ["a GPU pool for a service whose engines use none", { inference: { pool: "gpu-l4" } }, 'field "workloads.inference.pool": expected no GPU pool: no engine of this service uses a GPU'],
  ["more GPUs than the pool's nodes have", { inference: { gpusPerPod: 2, cpuEnginesOnGpu: { reason: "rehearsing the GPU node path on purpose" } } }, 'field "workloads.inference.gpusPerPod": expected at most 1: the smallest node of pool "gpu-l4" has 1 GPU(s)'],
  ["unknown pool for the split TTS service", { split: true, tts: { pool: "nope" } }, 'field "workloads.tts.pool"'],
  ["a mutable image tag", { image: { tag: "latest" } }, 'field "workloads.image.tag": expected an immutable tag, not "latest"'],
  ["not a memory quantity", { licenseProxy: { storageSize: "lots" } }, 'field "workloads.licenseProxy.storageSize": expected a memory quantity'],
  ["a neural engine without its model", { models: { source: "s3", stt: { engine: "sherpa-whisper" } } }, 'field "workloads.models.stt.location": expected the model\'s S3 key prefix'],
  ["a typo", { inference: { gpuPerPod: 1 } }, 'field "workloads.inference": unknown key(s) "gpuPerPod"'],
])("%s fails with a message naming the file and the field", (_what, workloads, message) => {
  const found = problems(workloads);
  expect(found.join("\n")).toContain(message);
  expect(found.every((p) => p.startsWith(path.join(dir, "staging.json")))).toBe(true);
});

test("split: STT and TTS run as separate services with their own scaling, each on its own NodePort", () => {
  const env = load({ split: true, stt: { replicas: { min: 2, max: 10 } }, tts: { replicas: { min: 3, max: 4 }, targetLoadRatio: 0.6 } }).load();
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "workloads-split-"));
  try {
    buildApp({ outdir, environments: [env] }).synth();
    const objects = kubeObjects(JSON.parse(fs.readFileSync(path.join(outdir, "stacks", "staging-workloads", "cdk.tf.json"), "utf8")) as StackJson);
    objects.forEach(validateKubeObject);
    expect(find(objects, "Deployment").filter(isInference).map((d) => d.metadata.name).sort()).toEqual(["stt", "tts"]);
    const hpa = (name: string) => find(objects, "HorizontalPodAutoscaler", name)[0].spec;
    expect([hpa("stt").minReplicas, hpa("stt").maxReplicas]).toEqual([2, 10]);
    expect([hpa("tts").minReplicas, hpa("tts").maxReplicas, hpa("tts").metrics[0].pods.target.averageValue]).toEqual([3, 4, "600m"]);
    expect(find(objects, "Service").filter((s) => s.spec.type === "LoadBalancer").map((s) => [s.spec.ports[0].nodePort, s.spec.healthCheckNodePort]).sort()).toEqual([
      [30080, 30090],
      [30081, 30091],
    ]);
    // One service account for both: the infra stack's Pod Identity association names it.
    expect(find(objects, "ServiceAccount", "inference-server")).toHaveLength(1);
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}, 120_000);
