/**
 * workloads.models.source "registry" end to end, through prod (which uses it): a model image per model in the
 * environment's registry, pinned by digest, copied by an init container with no network; no AWS identity and
 * no path out for the pods that serve audio.
 */
import * as fs from "fs";
import * as path from "path";
import { loadEnvironmentFile } from "../../app";
import { INFERENCE_SERVICE_ACCOUNT, WORKLOAD_NAMESPACE } from "../../constructs/private/names";
import { stockStack, stockSynthDir } from "../support/stock-synth";
import { find, kubeObjects, StackJson, validateKubeObject } from "./support";

const env = loadEnvironmentFile(path.resolve(__dirname, "../../environments/prod.json"));
const read = (stack: string) => stockStack<StackJson>(stack);
const infra = read("prod-infra");
const objects = kubeObjects(read("prod-workloads"));
const pod = find(objects, "Deployment", "inference")[0].spec.template.spec;
const digest = env.workloads.models.stt.image!.digest;

test("prod takes its STT model from a model image and keeps the built-in TTS", () => {
  expect(env.workloads.models).toMatchObject({ source: "registry", stt: { engine: "sherpa-whisper", image: { tag: "whisper-small-1", digest: expect.stringMatching(/^sha256:/) } }, tts: { engine: "flite" } });
});

test("one init container runs the model image from the environment's registry, pinned by the file's digest, and copies its model into the emptyDir", () => {
  expect(pod.initContainers).toHaveLength(1);
  const [copy] = pod.initContainers;
  expect(copy.name).toBe("model-stt");
  expect(copy.image).toMatch(/^\$\{data\.terraform_remote_state\.[^}]+repo-sttModel[^}]+repository_url\}@sha256:[a-f0-9]{64}$/);
  expect(copy.image.endsWith(`@${digest}`)).toBe(true);
  expect(copy.command).toEqual(["cp", "-R", "/opt/model/.", "/models/stt"]);
  expect(copy.env).toBeUndefined();
  expect(copy.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
  expect(copy.volumeMounts).toEqual([{ name: "models", mountPath: "/models" }]);
  expect(pod.volumes).toEqual(expect.arrayContaining([{ name: "models", emptyDir: { sizeLimit: env.workloads.models.volumeSize } }]));
});

test("the server reads the copied model read-only through STT_MODEL_DIR; the built-in TTS gets no model dir", () => {
  const server = pod.containers.find((c: { name: string }) => c.name === "server");
  expect(server.volumeMounts).toEqual(expect.arrayContaining([{ name: "models", mountPath: "/models", readOnly: true }]));
  const config = find(objects, "ConfigMap", "inference-config")[0].data!;
  expect(config.STT_MODEL_DIR).toBe("/models/stt");
  expect(config.TTS_MODEL_DIR).toBeUndefined();
  expect(pod.serviceAccountName).toBe(INFERENCE_SERVICE_ACCOUNT);
});

test("the pods reach the license proxy and (the namespace's policy) DNS, nothing else: no address block at all", () => {
  const egress = find(objects, "NetworkPolicy", "inference-egress")[0].spec.egress;
  expect(egress).toEqual([{ to: [{ podSelector: { matchLabels: { "app.kubernetes.io/component": "license-proxy" } } }], ports: [{ protocol: "TCP", port: 3369 }] }]);
});

test("the infra stack gives the inference pods no AWS identity, makes the model repository with our controls, and lists the model image in the mirror manifest", () => {
  const associations = Object.values(infra.resource?.aws_eks_pod_identity_association ?? {});
  expect(associations.find((a) => a.namespace === WORKLOAD_NAMESPACE && a.service_account === INFERENCE_SERVICE_ACCOUNT)).toBeUndefined();
  const repository = Object.values(infra.resource?.aws_ecr_repository ?? {}).find((r) => String(r.name).endsWith("/models/stt"))!;
  expect(repository).toMatchObject({ image_tag_mutability: "IMMUTABLE", encryption_configuration: [{ encryption_type: "KMS" }] });
  const manifest = JSON.parse(fs.readFileSync(path.join(stockSynthDir(), "stacks", "prod-infra", "mirror-manifest.json"), "utf8")) as { images: { name: string; digest: string; tag: string }[] };
  expect(manifest.images.find((i) => i.name === "sttModel")).toMatchObject({ digest, tag: "whisper-small-1" });
  expect(manifest.images.map((i) => i.name)).not.toContain("awsCli");
});

test("every object of the registry variant passes the Kubernetes schemas", () => {
  for (const obj of objects) expect(() => validateKubeObject(obj)).not.toThrow();
});
