/**
 * (a) The whole stack in a new VPC: network, private GPU cluster, private registry, internal load
 * balancer, model bucket and the cluster autoscaler's role in `platform-infra`; the inference service,
 * license proxy (on the cluster key's storage class), GPU agents, cluster autoscaler and monitoring in
 * `platform-workloads`, whose Kubernetes provider reads the cluster from the infra stack.
 */
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { App, Fn, TerraformStack } from "cdktf";
import {
  ClusterAutoscaler,
  ClusterAutoscalerRole,
  EncryptedStorageClass,
  GpuCluster,
  GpuNodeAgents,
  InferenceService,
  InternalLoadBalancer,
  LicenseProxy,
  ModelBucket,
  Monitoring,
  PrivateNetwork,
  PrivateRegistry,
  setKeyAccess,
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
registry.grantPull(cluster.nodeRoleArn);
// The model archive model images are built from: read by the builder, never by a serving pod.
new ModelBucket(infra, "models", { namePrefix: "speech-models-" }).grantRead("arn:aws:iam::111122223333:role/model-publisher");
const autoscalerRole = new ClusterAutoscalerRole(infra, "cluster-autoscaler", { cluster });
const ingress = new InternalLoadBalancer(infra, "ingress", {
  network,
  allowedClientCidrs: ["10.0.0.0/8"],
  // The built-in engines run on the system pool (InferenceService requests a GPU only for engines that use
  // one); target cluster.gpuAutoScalingGroupNames once a sherpa model is set to cuda or auto.
  targets: { autoScalingGroupNames: cluster.systemAutoScalingGroupNames, nodeSecurityGroupId: cluster.clusterSecurityGroupId },
  certificateArn: "arn:aws:acm:eu-west-1:111122223333:certificate/00000000-0000-0000-0000-000000000000",
});

const workloads = new TerraformStack(app, "platform-workloads");
new KubernetesProvider(workloads, "kubernetes", {
  host: cluster.endpoint,
  clusterCaCertificate: Fn.base64decode(cluster.certificateAuthorityData),
  exec: [{ apiVersion: "client.authentication.k8s.io/v1beta1", command: "aws", args: ["eks", "get-token", "--cluster-name", cluster.clusterName, "--region", region] }],
});
const namespace = new WorkloadNamespace(workloads, "namespace");
const image = registry.images.inferenceServer.imageUri;
const licenseProxy = new LicenseProxy(workloads, "license-proxy", {
  namespace,
  image,
  license: { mode: "online", serverUrl: "https://license.example.com", serverCidrs: ["203.0.113.0/24"] },
  // The cluster's key, whose policy lets the EBS CSI driver encrypt the proxy's volumes with it.
  storageClass: new EncryptedStorageClass(workloads, "storage-class", { kmsKeyArn: cluster.volumeKeyArn }),
});
new InferenceService(workloads, "inference", { namespace, image, licenseProxyUrl: licenseProxy.url, loadBalancer: ingress.forwarding });
const gpu = new GpuNodeAgents(workloads, "gpu", {
  devicePluginImage: registry.images.nvidiaDevicePlugin.imageUri,
  dcgmExporterImage: registry.images.dcgmExporter.imageUri,
  cluster,
});
const autoscaler = new ClusterAutoscaler(workloads, "cluster-autoscaler", { image: registry.images.clusterAutoscaler.imageUri, cluster, region, identity: autoscalerRole });
new Monitoring(workloads, "monitoring", { namespace, scrapeNamespaces: [namespace.name, gpu.namespace.name, autoscaler.namespace.name] });

app.synth();
