/**
 * (c) An air-gapped environment: no internet gateway, NAT or route out of the VPC; nodes join and
 * pull through VPC endpoints, images come only from the private registry (pulls pinned to the ECR
 * endpoints), model weights as a model image in the same registry (copied into the pod with no network),
 * the model archive in a bucket only the image builder reads, and the license proxy runs on an offline
 * license file.
 */
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { App, TerraformStack } from "cdktf";
import {
  GpuCluster,
  GpuNodeAgents,
  LicenseProxy,
  ModelBucket,
  PrivateNetwork,
  PrivateRegistry,
  setKeyAccess,
  SpeechPlatform,
  WorkloadNamespace,
} from "voice-selfhost";

const region = "eu-central-1";
const app = new App();

const infra = new TerraformStack(app, "isolated-infra");
new AwsProvider(infra, "aws", { region });
// Every key the constructs make: administrators (Terraform's deploy role among them) apart from users.
setKeyAccess(infra, { administrators: ["arn:aws:iam::111122223333:role/platform-deploy"], users: ["arn:aws:iam::111122223333:role/model-publisher"] });
const network = new PrivateNetwork(infra, "network", { cidr: "10.90.0.0/16", azs: ["eu-central-1a", "eu-central-1b"], mode: "airgapped", clusterName: "isolated" });
const cluster = new GpuCluster(infra, "cluster", {
  network,
  name: "isolated",
  gpuPools: [{ name: "gpu", instanceTypes: ["g6e.xlarge"], minSize: 1, maxSize: 2, amiType: "BOTTLEROCKET_x86_64_NVIDIA" }],
});
// Whisper as a model image (`npm run model:import -- ... --image-from`), pushed by the mirror with the other images.
const whisperImage = { tag: "whisper-small-1", digest: "sha256:1111111111111111111111111111111111111111111111111111111111111111" };
const registry = new PrivateRegistry(infra, "registry", { network, repositoryPrefix: "isolated", region, modelImages: { stt: whisperImage } });
// The model archive the images are built from: the image builder reads it; no pod does.
new ModelBucket(infra, "models", { namePrefix: "isolated-models-" }).grantRead("arn:aws:iam::111122223333:role/model-publisher");
const platform = new SpeechPlatform(infra, {
  cluster,
  registry,
  region,
  // Whisper on the CPU and the built-in engines run on the system pool: add "gpu" once a model is set to cuda or auto.
  inferenceNodes: ["system"],
  ingress: {
    // The callers: an on-premises network routed to the VPC (a client inside the VPC would hairpin: refused).
    allowedClientCidrs: ["10.91.0.0/16"],
    certificateArn: "arn:aws:acm:eu-central-1:111122223333:certificate/00000000-0000-0000-0000-000000000000",
  },
});

const workloads = new TerraformStack(app, "isolated-workloads");
platform.kubernetesProvider(workloads);
const namespace = new WorkloadNamespace(workloads, "namespace");
const image = registry.images.inferenceServer.imageUri;
const licenseProxy = new LicenseProxy(workloads, "license-proxy", { namespace, image, license: { mode: "offline" } });
platform.addInferenceService(workloads, "inference", {
  namespace,
  image,
  licenseProxyUrl: licenseProxy.url,
  // Whisper from its model image, copied into the pod by an init container with no network and no AWS identity.
  models: { source: "registry", stt: { engine: "sherpa-whisper", image: whisperImage } },
  modelImages: { stt: registry.modelImages.stt!.imageUri },
});
// Bottlerocket's NVIDIA variant ships the device plugin: for this cluster only the DCGM exporter runs as a DaemonSet.
new GpuNodeAgents(workloads, "gpu", {
  devicePluginImage: registry.images.nvidiaDevicePlugin.imageUri,
  dcgmExporterImage: registry.images.dcgmExporter.imageUri,
  cluster,
});

app.synth();
