/**
 * (b) GPU node groups and the inference service added to a VPC and an EKS cluster the platform
 * team already runs. Nothing here creates a network or a cluster: the VPC is declared (and checked
 * at synth), the cluster is read by name, so one stack can hold both the AWS and the Kubernetes side.
 */
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { App, TerraformStack } from "cdktf";
import {
  ClusterAutoscaler,
  ClusterAutoscalerRole,
  ExistingCluster,
  GpuNodeAgents,
  LicenseProxy,
  PrivateNetwork,
  PrivateRegistry,
  setKeyAccess,
  SpeechPlatform,
  WorkloadNamespace,
} from "voice-selfhost";

const region = "eu-west-1";
const app = new App();
const stack = new TerraformStack(app, "speech-on-shared-cluster");
new AwsProvider(stack, "aws", { region });
// Every key the constructs make: administrators (Terraform's deploy role among them) apart from users.
setKeyAccess(stack, { administrators: ["arn:aws:iam::111122223333:role/platform-deploy"], users: ["arn:aws:iam::111122223333:role/model-publisher"] });

// The shared VPC, as the network team hands it over.
const network = PrivateNetwork.fromExisting(stack, "network", {
  vpcId: "vpc-0a1b2c3d4e5f60000",
  vpcCidr: "10.60.0.0/16",
  mode: "connected",
  privateSubnets: [
    // The CIDRs are optional: with them, the pods admit the load balancer's health checks from these subnets only, not the whole VPC.
    { subnetId: "subnet-0a1b2c3d4e5f60001", availabilityZone: "eu-west-1a", cidr: "10.60.0.0/19" },
    { subnetId: "subnet-0a1b2c3d4e5f60002", availabilityZone: "eu-west-1b", cidr: "10.60.32.0/19" },
  ],
  endpointSecurityGroupId: "sg-0a1b2c3d4e5f60000",
  s3GatewayEndpointId: "vpce-0a1b2c3d4e5f6aaaa",
  interfaceEndpointIds: { "ecr.api": "vpce-0a1b2c3d4e5f6bbbb", "ecr.dkr": "vpce-0a1b2c3d4e5f6cccc" },
});
const cluster = new ExistingCluster(stack, "cluster", {
  clusterName: "platform-eks",
  network,
  gpuPools: [{ name: "speech-l4", instanceTypes: ["g6.xlarge"], minSize: 0, maxSize: 6 }],
});
// The team's own repository for the device plugin; ours for the rest.
const registry = new PrivateRegistry(stack, "registry", {
  network,
  repositoryPrefix: "speech",
  region,
  existingRepositories: { nvidiaDevicePlugin: "platform/nvidia/k8s-device-plugin" },
});
// The GPU pool scales from zero: only the cluster autoscaler ever gives it a node. Its role needs the cluster's Pod Identity agent add-on.
const autoscalerRole = new ClusterAutoscalerRole(stack, "cluster-autoscaler-role", { cluster });
const platform = new SpeechPlatform(stack, {
  cluster,
  registry,
  region,
  // An existing cluster has no system pool of ours: the inference pods run on the GPU pool.
  inferenceNodes: ["gpu"],
  ingress: {
    // The callers: a peered network (a client inside the cluster's VPC would hairpin: refused).
    allowedClientCidrs: ["10.61.0.0/16"],
    certificateArn: "arn:aws:acm:eu-west-1:111122223333:certificate/00000000-0000-0000-0000-000000000000",
  },
});
platform.kubernetesProvider(stack);
const namespace = new WorkloadNamespace(stack, "namespace");
const image = registry.images.inferenceServer.imageUri;
const licenseProxy = new LicenseProxy(stack, "license-proxy", { namespace, image, license: { mode: "offline" } });
platform.addInferenceService(stack, "inference", {
  namespace,
  image,
  settings: { pool: "speech-l4" },
  // A GPU is requested only for an engine that can use one: Whisper baked into your image, on CUDA when the
  // image carries the CUDA onnxruntime (inference-image/Dockerfile), else on CPU (the server logs which).
  models: { stt: { engine: "sherpa-whisper", provider: "auto", location: "/opt/models/whisper-small" } },
  licenseProxyUrl: licenseProxy.url,
});
new GpuNodeAgents(stack, "gpu", {
  devicePluginImage: registry.images.nvidiaDevicePlugin.imageUri,
  dcgmExporterImage: registry.images.dcgmExporter.imageUri,
  cluster,
});
new ClusterAutoscaler(stack, "cluster-autoscaler", { image: registry.images.clusterAutoscaler.imageUri, cluster, region, identity: autoscalerRole });

app.synth();
