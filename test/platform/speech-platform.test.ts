/** SpeechPlatform: the wiring between cluster, registry, load balancer and the Kubernetes objects, written once. */
import { TerraformStack } from "cdktf";
import { ExistingCluster, GpuCluster, PrivateRegistry, SpeechPlatform, WorkloadNamespace } from "../../constructs";
import { fakeNetwork, only, policyText, resources, synthJson, testStack } from "../support/synth";

const ingress = { allowedClientCidrs: ["10.200.0.0/16"], certificateArn: "arn:aws:acm:eu-west-1:111122223333:certificate/abc" };

function platformOn(inferenceNodes: ("gpu" | "system")[]) {
  const { app, stack } = testStack();
  const network = fakeNetwork();
  const cluster = new GpuCluster(stack, "cluster", { network, name: "speech" });
  const registry = new PrivateRegistry(stack, "registry", { network, region: "eu-west-1" });
  const platform = new SpeechPlatform(stack, { cluster, registry, region: "eu-west-1", inferenceNodes, ingress });
  return { app, stack, cluster, registry, platform };
}

/** The Auto Scaling group references a stack's target-group attachments point at. */
function attachedGroups(stack: TerraformStack): string[] {
  const attachments = Object.values(resources(synthJson(stack), "aws_autoscaling_attachment"));
  return [...new Set(attachments.map((a) => String(a.autoscaling_group_name)))].sort();
}

test("the load balancer targets exactly the pools the inference pods run on", () => {
  const gpu = platformOn(["gpu"]);
  const gpuGroups = attachedGroups(gpu.stack);
  expect(gpuGroups.length).toBeGreaterThan(0);
  expect(gpuGroups.every((g) => g.includes("pool-gpu"))).toBe(true);

  const system = platformOn(["system"]);
  const systemGroups = attachedGroups(system.stack);
  expect(systemGroups.length).toBe(fakeNetwork().privateSubnetIds.length);
  expect(systemGroups.every((g) => g.includes("pool-system"))).toBe(true);

  const both = platformOn(["gpu", "system"]);
  expect(attachedGroups(both.stack)).toEqual([...gpuGroups, ...systemGroups].sort());
});

test("the nodes may pull from the registry: its policy names the node role", () => {
  const { stack } = platformOn(["gpu"]);
  const json = synthJson(stack);
  const policies = Object.values(resources(json, "aws_ecr_repository_policy")).map((p) => policyText(json, p.policy));
  expect(policies.length).toBeGreaterThan(0);
  for (const policy of policies) expect(policy).toMatch(/NodesPull.*aws_iam_role\.cluster_node-role/s);
});

test("a workloads stack gets one Kubernetes provider for the cluster's private API, with a token and no stored credential", () => {
  const { app, platform } = platformOn(["gpu"]);
  const workloads = new TerraformStack(app, "workloads");
  const namespace = new WorkloadNamespace(workloads, "namespace");
  platform.kubernetesProvider(workloads);
  const service = platform.addInferenceService(workloads, "inference", { namespace, image: "registry.example/inference:1", licenseProxyUrl: "http://license-proxy:8080" });
  const providers = (synthJson(workloads) as unknown as { provider: Record<string, unknown[]> }).provider.kubernetes;
  expect(providers).toHaveLength(1);
  const provider = providers[0] as Record<string, any>;
  expect(provider.exec[0]).toMatchObject({ command: "aws", args: expect.arrayContaining(["eks", "get-token", "--region", "eu-west-1"]) });
  expect(provider).not.toHaveProperty("token");
  expect(provider).not.toHaveProperty("client_key");
  // The pods admit what the load balancer forwards: its clients, not the whole VPC.
  expect(service.service).toBeDefined();
  const policy = Object.values(resources(synthJson(workloads), "kubernetes_manifest")).map((m) => m.manifest as Record<string, any>).find((m) => m.kind === "NetworkPolicy" && m.spec.policyTypes.includes("Ingress") && /inference/.test(m.metadata.name));
  expect(JSON.stringify(policy)).toContain("10.200.0.0/16");
});

test("the pods reach the API from the cluster's VPC and service CIDR", () => {
  const { cluster, platform } = platformOn(["system"]);
  expect(platform.kubernetesApiCidrs).toEqual([cluster.network.vpcCidr, cluster.serviceCidr]);
});

test("inference on a system pool the cluster does not have, or on no nodes, is refused with what to do", () => {
  const { stack } = testStack();
  const network = fakeNetwork();
  const cluster = new ExistingCluster(stack, "cluster", { clusterName: "shared", network, gpuPools: [{ name: "gpu", instanceTypes: ["g6.xlarge"], minSize: 0, maxSize: 2 }] });
  const registry = new PrivateRegistry(stack, "registry", { network, region: "eu-west-1" });
  expect(() => new SpeechPlatform(stack, { cluster, registry, region: "eu-west-1", inferenceNodes: ["system"], ingress })).toThrow(/"system" needs a cluster with a system pool of ours/);
  expect(() => new SpeechPlatform(stack, { cluster, registry, region: "eu-west-1", inferenceNodes: [], ingress, ingressId: "other" })).toThrow(/expected "gpu", "system" or both/);
  // On its GPU pools it is wired like any other cluster.
  new SpeechPlatform(stack, { cluster, registry, region: "eu-west-1", inferenceNodes: ["gpu"], ingress, ingressId: "lb" });
  expect(only(synthJson(stack), "aws_lb")).toMatchObject({ internal: true });
  expect(attachedGroups(stack).every((g) => g.includes("pool-gpu"))).toBe(true);
});
