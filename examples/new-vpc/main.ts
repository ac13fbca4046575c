/**
 * (a) The whole stack in a new VPC: network, private GPU cluster, private registry, internal load
 * balancer, model bucket and the cluster autoscaler's role in `platform-infra`; the inference service,
 * license proxy (on the cluster key's storage class), GPU agents, cluster autoscaler and monitoring in
 * `platform-workloads`, whose Kubernetes provider reads the cluster from the infra stack.
 */
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { App, TerraformStack } from "cdktf";
import {
  ClusterAutoscaler,
  ClusterAutoscalerRole,
  EncryptedStorageClass,
  GpuCluster,
  GpuNodeAgents,
  LicenseProxy,
  ModelBucket,
  Monitoring,
  PrivateNetwork,
  PrivateRegistry,
  setKeyAccess,
  SpeechPlatform,
  WorkloadNamespace,
} from "voice-selfhost";

const region = "eu-west-1";
const app = new App();

const infra = new TerraformStack(app, "platform-infra");
new AwsProvider(infra, "aws", { region });
// Every key the constructs make: administrators (Terraform's deploy role among them) apart from users.
setKeyAccess(infra, { administrators: ["arn:aws:iam::111122223333:role/platform-deploy"], users: ["arn:aws:iam::111122223333:role/model-publisher"] });
const network = new PrivateNetwork(infra, "network", {
  cidr: "10.70.0.0/16",
  azs: ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
  mode: "connected",
  clusterName: "speech",
});
const cluster = new GpuCluster(infra, "cluster", {
  network,
  name: "speech",
  gpuPools: [{ name: "gpu", instanceTypes: ["g5.xlarge"], minSize: 1, maxSize: 4 }],
  adminRoleArn: "arn:aws:iam::111122223333:role/platform-admin",
});
const registry = new PrivateRegistry(infra, "registry", { network, repositoryPrefix: "speech", region });
// The model archive model images are built from: read by the builder, never by a serving pod.
new ModelBucket(infra, "models", { namePrefix: "speech-models-" }).grantRead("arn:aws:iam::111122223333:role/model-publisher");
const autoscalerRole = new ClusterAutoscalerRole(infra, "cluster-autoscaler", { cluster });
// The wiring, once: the nodes pull from the registry, the load balancer targets the nodes the inference pods run
// on, the workloads stack reaches the cluster's private API, the pods admit what the load balancer forwards.
const platform = new SpeechPlatform(infra, {
  cluster,
  registry,
  region,
  // The built-in engines run on the system pool (InferenceService requests a GPU only for engines that use one):
  // add "gpu" once a sherpa model is set to cuda or auto.
  inferenceNodes: ["system"],
  ingress: {
    allowedClientCidrs: ["10.0.0.0/8"],
    certificateArn: "arn:aws:acm:eu-west-1:111122223333:certificate/00000000-0000-0000-0000-000000000000",
  },
});

const workloads = new TerraformStack(app, "platform-workloads");
platform.kubernetesProvider(workloads);
const namespace = new WorkloadNamespace(workloads, "namespace");
const image = registry.images.inferenceServer.imageUri;
const licenseProxy = new LicenseProxy(workloads, "license-proxy", {
  namespace,
  image,
  license: { mode: "online", serverUrl: "https://license.example.com", serverCidrs: ["203.0.113.0/24"] },
  // The cluster's key, whose policy lets the EBS CSI driver encrypt the proxy's volumes with it.
  storageClass: new EncryptedStorageClass(workloads, "storage-class", { kmsKeyArn: cluster.volumeKeyArn }),
});
platform.addInferenceService(workloads, "inference", { namespace, image, licenseProxyUrl: licenseProxy.url });
const gpu = new GpuNodeAgents(workloads, "gpu", {
  devicePluginImage: registry.images.nvidiaDevicePlugin.imageUri,
  dcgmExporterImage: registry.images.dcgmExporter.imageUri,
  cluster,
});
const autoscaler = new ClusterAutoscaler(workloads, "cluster-autoscaler", { image: registry.images.clusterAutoscaler.imageUri, cluster, region, identity: autoscalerRole });
new Monitoring(workloads, "monitoring", { namespace, scrapeNamespaces: [namespace.name, gpu.namespace.name, autoscaler.namespace.name] });

app.synth();
