/** workloads.models.source "s3" end to end, through prod (which uses it): aws-cli init container from the private registry, Pod Identity, gateway endpoint, emptyDir. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadEnvironmentFile } from "../../app";
import { INFERENCE_SERVICE_ACCOUNT, WORKLOAD_NAMESPACE } from "../../constructs/shared";
import { IMAGES } from "../../constructs/registry";
import { buildApp } from "../../main";
import { find, kubeObjects, StackJson, validateKubeObject } from "./support";

const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "models-s3-"));
afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

const env = loadEnvironmentFile(path.resolve(__dirname, "../../environments/prod.json"));
buildApp({ outdir, environments: [env] }).synth();
const read = (stack: string) => JSON.parse(fs.readFileSync(path.join(outdir, "stacks", stack, "cdk.tf.json"), "utf8")) as StackJson;
const infra = read("prod-infra");
const objects = kubeObjects(read("prod-workloads"));
const deployment = find(objects, "Deployment", "inference")[0];
const pod = deployment.spec.template.spec;

test("prod takes its STT model from S3 and keeps the built-in TTS", () => {
  expect(env.workloads.models).toMatchObject({ source: "s3", stt: { engine: "sherpa-whisper", location: "models/whisper-small" }, tts: { engine: "flite" } });
});

test("one aws-cli init container, from the environment's ECR pinned by the upstream digest, syncs the model prefix into the emptyDir", () => {
  expect(pod.initContainers).toHaveLength(1);
  const [sync] = pod.initContainers;
  expect(sync.name).toBe("model-sync-stt");
  expect(sync.image).toMatch(/^\$\{data\.terraform_remote_state\.[^}]+repo-awsCli[^}]+repository_url\}@sha256:[a-f0-9]{64}$/);
  expect(sync.image.endsWith(`@${IMAGES.awsCli.digest}`)).toBe(true);
  expect(sync.command.slice(0, 3)).toEqual(["aws", "s3", "sync"]);
  expect(sync.command.at(-2)).toMatch(/^s3:\/\/\$\{data\.terraform_remote_state\.[^}]+models_bucket[^}]+\}\/models\/whisper-small\/$/);
  expect(sync.command.at(-1)).toBe("/models/stt");
  // Pod Identity credentials only: the node's instance role is never a fallback.
  expect(sync.env).toEqual(expect.arrayContaining([{ name: "AWS_REGION", value: env.region }, { name: "AWS_EC2_METADATA_DISABLED", value: "true" }]));
  expect(sync.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
  expect(sync.volumeMounts).toEqual(expect.arrayContaining([{ name: "models", mountPath: "/models" }]));
  expect(pod.volumes).toEqual(expect.arrayContaining([{ name: "models", emptyDir: { sizeLimit: env.workloads.models.volumeSize } }]));
});

test("the server reads the synced model read-only through STT_MODEL_DIR; the built-in TTS gets no model dir", () => {
  const server = pod.containers.find((c: { name: string }) => c.name === "server");
  expect(server.volumeMounts).toEqual(expect.arrayContaining([{ name: "models", mountPath: "/models", readOnly: true }]));
  const config = find(objects, "ConfigMap", "inference-config")[0].data!;
  expect(config.STT_MODEL_DIR).toBe("/models/stt");
  expect(config.TTS_MODEL_DIR).toBeUndefined();
  expect(pod.serviceAccountName).toBe(INFERENCE_SERVICE_ACCOUNT);
});

test("the pods may reach S3 (public addresses on 443, routed through the gateway endpoint) and the Pod Identity agent, nothing else new", () => {
  const egress = find(objects, "NetworkPolicy", "inference-egress")[0].spec.egress as { to: { ipBlock?: { cidr: string; except?: string[] } }[]; ports: { port: number }[] }[];
  const blocks = egress.flatMap((rule) => rule.to.filter((t) => t.ipBlock).map((t) => [t.ipBlock!.cidr, rule.ports.map((p) => p.port)]));
  expect(blocks).toEqual([
    ["0.0.0.0/0", [443]],
    ["169.254.170.23/32", [80]],
  ]);
});

test("the infra stack gives the inference service account the bucket's reader role, and mirrors the aws-cli image", () => {
  const associations = Object.values(infra.resource?.aws_eks_pod_identity_association ?? {});
  const association = associations.find((a) => a.namespace === WORKLOAD_NAMESPACE && a.service_account === INFERENCE_SERVICE_ACCOUNT)!;
  expect(association.role_arn).toMatch(/aws_iam_role\.cluster_inference-role_[^.]+\.arn/);
  const bucketPolicy = JSON.parse(String(Object.values(infra.resource?.aws_s3_bucket_policy ?? {}).find((p) => String(p.bucket).includes("models_bucket"))!.policy)) as {
    Statement: { Sid: string; Principal?: { AWS?: string } }[];
  };
  expect(bucketPolicy.Statement.find((s) => s.Sid === "InferencePodsRead")!.Principal!.AWS).toBe(association.role_arn);
  const manifest = JSON.parse(fs.readFileSync(path.join(outdir, "stacks", "prod-infra", "mirror-manifest.json"), "utf8")) as { images: { name: string; source: string }[] };
  expect(manifest.images.find((i) => i.name === "awsCli")!.source).toBe(`public.ecr.aws/aws-cli/aws-cli:${IMAGES.awsCli.tag}@${IMAGES.awsCli.digest}`);
});

test("every object of the s3 variant passes the Kubernetes schemas", () => {
  for (const obj of objects) expect(() => validateKubeObject(obj)).not.toThrow();
});
