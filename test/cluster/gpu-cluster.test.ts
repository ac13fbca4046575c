import { GpuCluster, GPU_INSTANCE_TYPES, gpuInstanceType } from "../../constructs/cluster";
import { GPU_TAINT, NODE_LABELS } from "../../constructs/private/names";
import { fakeNetwork, only, policyStatements, resources, synthJson, testStack } from "../support/synth";

function synthCluster(props: Partial<ConstructorParameters<typeof GpuCluster>[2]> = {}) {
  const { stack } = testStack();
  const cluster = new GpuCluster(stack, "c", { network: fakeNetwork(), ...props });
  return { cluster, json: synthJson(stack) };
}

describe("GpuCluster with only the network", () => {
  const { cluster, json } = synthCluster();
  const eks = only(json, "aws_eks_cluster") as Record<string, any>;

  test("the API endpoint is private only", () => {
    expect(eks.vpc_config).toMatchObject({ endpoint_private_access: true, endpoint_public_access: false, subnet_ids: fakeNetwork().privateSubnetIds });
    expect(eks.vpc_config.public_access_cidrs).toBeUndefined();
  });

  test("secrets are envelope-encrypted with a rotating customer-managed key", () => {
    expect(eks.encryption_config).toEqual({ resources: ["secrets"], provider: { key_arn: expect.stringContaining("aws_kms_key.c_key") } });
    const key = only(json, "aws_kms_key");
    expect(key).toMatchObject({ enable_key_rotation: true, deletion_window_in_days: 30 });
    const policy = String(only(json, "aws_kms_key_policy").policy);
    expect(policy).toContain("ClusterEncryptsSecrets");
    expect(policy).toContain("AWSServiceRoleForAutoScaling");
    expect(policy).toContain("kms:EncryptionContext:aws:logs:arn");
  });

  test("api, audit and authenticator logs go to a KMS-encrypted group created before the cluster", () => {
    expect(eks.enabled_cluster_log_types).toEqual(["api", "audit", "authenticator"]);
    const [logId, group] = Object.entries(resources(json, "aws_cloudwatch_log_group")).find(([, g]) => g.name === `/aws/eks/${cluster.name}/cluster`)!;
    expect(group).toMatchObject({ retention_in_days: 365, kms_key_id: expect.stringContaining("aws_kms_key.c_key") });
    expect(eks.depends_on).toContain(`aws_cloudwatch_log_group.${logId}`);
  });

  test("container, node and data-plane logs: the CloudWatch observability add-on ships them to encrypted groups with retention, created first", () => {
    const groups = Object.entries(resources(json, "aws_cloudwatch_log_group")).filter(([, g]) => String(g.name).startsWith("/aws/containerinsights/"));
    expect(groups.map(([, g]) => g.name).sort()).toEqual(["application", "dataplane", "host", "performance"].map((g) => `/aws/containerinsights/${cluster.name}/${g}`));
    for (const [, g] of groups) expect(g).toMatchObject({ retention_in_days: 365, kms_key_id: expect.stringContaining("aws_kms_key.c_key") });
    const addon = Object.values(resources(json, "aws_eks_addon")).find((a) => a.addon_name === "amazon-cloudwatch-observability") as Record<string, any>;
    expect(JSON.parse(addon.configuration_values)).toEqual({ containerLogs: { enabled: true } });
    expect(addon.pod_identity_association).toEqual([{ role_arn: expect.stringContaining("aws_iam_role.c_cloudwatch-agent-role"), service_account: "cloudwatch-agent" }]);
    for (const [id] of groups) expect(addon.depends_on).toContain(`aws_cloudwatch_log_group.${id}`);
    // The logs service may use the key only for these groups (its encryption context names each).
    const policy = String(only(json, "aws_kms_key_policy").policy);
    for (const g of ["application", "dataplane", "host", "performance"]) expect(policy).toContain(`log-group:/aws/containerinsights/${cluster.name}/${g}`);
  });

  test("access entries only, and the creator gets no implicit admin", () => {
    expect(eks.access_config).toEqual({ authentication_mode: "API", bootstrap_cluster_creator_admin_permissions: false });
    expect(resources(json, "aws_eks_access_entry")).toEqual({});
    expect(eks.kubernetes_network_config).toMatchObject({ service_ipv4_cidr: "172.20.0.0/16" });
  });

  test("roles carry only the managed policies each needs", () => {
    const attachments = Object.values(resources(json, "aws_iam_role_policy_attachment")).map((a) => `${String(a.role).split(".")[1]} ${String(a.policy_arn).split("/").pop()}`);
    const byRole = (fragment: string) => attachments.filter((a) => a.includes(fragment)).map((a) => a.split(" ")[1]).sort();
    expect(byRole("cluster-role")).toEqual(["AmazonEKSClusterPolicy"]);
    expect(byRole("node-role")).toEqual(["AmazonEC2ContainerRegistryPullOnly", "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonSSMManagedInstanceCore"]);
    expect(byRole("ebs-csi-role")).toEqual(["AmazonEBSCSIDriverPolicy"]);
    expect(byRole("cloudwatch-agent-role")).toEqual(["CloudWatchAgentServerPolicy"]);
    expect(resources(json, "aws_iam_openid_connect_provider")).toEqual({});
  });

  test("managed add-ons, network policy on, EBS CSI with its own Pod Identity role", () => {
    const addons = Object.fromEntries(Object.values(resources(json, "aws_eks_addon")).map((a) => [a.addon_name, a as Record<string, any>]));
    expect(Object.keys(addons).sort()).toEqual(["amazon-cloudwatch-observability", "aws-ebs-csi-driver", "coredns", "eks-pod-identity-agent", "kube-proxy", "metrics-server", "vpc-cni"]);
    expect(JSON.parse(addons["vpc-cni"].configuration_values)).toEqual({ enableNetworkPolicy: "true" });
    expect(addons["aws-ebs-csi-driver"].pod_identity_association).toEqual([
      { role_arn: expect.stringContaining("aws_iam_role.c_ebs-csi-role"), service_account: "ebs-csi-controller-sa" },
    ]);
    // After the system nodes exist (every zone's group): coredns, and metrics-server for the HPAs' resource metrics.
    for (const name of ["coredns", "metrics-server"]) {
      expect(addons[name].depends_on).toEqual(["a", "b", "c"].map((z) => expect.stringContaining(`aws_eks_node_group.c_pool-system-eu-west-1${z}`)));
    }
  });

  test("a system pool of one node group per zone, and a GPU pool with the NVIDIA AMI, the GPU taint and pool labels", () => {
    const groups = Object.values(resources(json, "aws_eks_node_group")) as Record<string, any>[];
    expect(groups).toHaveLength(4);
    const systems = groups.filter((g) => g.labels[NODE_LABELS.pool] === "system");
    const gpu = groups.find((g) => g.labels[NODE_LABELS.pool] === "gpu")!;
    // 2-4 nodes over 3 zones: 1-2 per zone (rounded up), each group in its zone's subnet only, all one pool to the autoscaler.
    expect(systems.map((g) => g.subnet_ids)).toEqual([["subnet-a"], ["subnet-b"], ["subnet-c"]]);
    for (const system of systems) {
      expect(system).toMatchObject({ ami_type: "AL2023_x86_64_STANDARD", instance_types: ["m6i.large"], scaling_config: { min_size: 1, max_size: 2, desired_size: 1 } });
      expect(system.labels).toEqual({ [NODE_LABELS.pool]: "system", [NODE_LABELS.role]: "system" });
      expect(system.taint).toBeUndefined();
    }
    expect(systems.map((g) => g.node_group_name_prefix)).toEqual(["system-eu-west-1a-", "system-eu-west-1b-", "system-eu-west-1c-"]);
    expect(cluster.systemAutoScalingGroupNames).toHaveLength(3);
    expect(gpu).toMatchObject({ ami_type: "AL2023_x86_64_NVIDIA", instance_types: ["g5.xlarge"], scaling_config: { min_size: 0, max_size: 2, desired_size: 0 } });
    expect(gpu.taint).toEqual([{ key: GPU_TAINT.key, value: "true", effect: "NO_SCHEDULE" }]);
    // The accelerator label makes the autoscaler wait for the device plugin rather than launch a second node.
    expect(gpu.labels).toEqual({ [NODE_LABELS.pool]: "gpu", [NODE_LABELS.role]: "gpu", [NODE_LABELS.gpuModel]: "A10G", [NODE_LABELS.accelerator]: "nvidia-a10g" });
    expect(gpu.launch_template).toMatchObject({ id: expect.stringContaining("aws_launch_template") });
    expect(gpu.lifecycle).toMatchObject({ create_before_destroy: true, ignore_changes: ["scaling_config[0].desired_size"] });
  });

  test("launch templates: IMDSv2 only with hop limit 1, encrypted gp3 with the key, no public IP, tagged launches", () => {
    const templates = Object.values(resources(json, "aws_launch_template")) as Record<string, any>[];
    expect(templates).toHaveLength(4);
    for (const lt of templates) {
      expect(lt.metadata_options).toMatchObject({ http_tokens: "required", http_put_response_hop_limit: 1, http_endpoint: "enabled" });
      expect(lt.block_device_mappings).toEqual([
        { device_name: "/dev/xvda", ebs: expect.objectContaining({ encrypted: "true", volume_type: "gp3", kms_key_id: expect.stringContaining("aws_kms_key.c_key") }) },
      ]);
      expect(lt.network_interfaces).toBeUndefined();
      expect(lt.vpc_security_group_ids).toBeUndefined();
      expect(lt.tag_specifications.map((t: { resource_type: string }) => t.resource_type)).toEqual(["instance", "volume", "network-interface"]);
    }
  });

  test("the GPU pool's Auto Scaling group carries the scale-from-zero hints, and not the discovery tags EKS sets itself", () => {
    const tags = Object.values(resources(json, "aws_autoscaling_group_tag")) as Record<string, any>[];
    // EKS tags a managed node group's Auto Scaling group k8s.io/cluster-autoscaler/enabled and .../<cluster>: owning them would delete EKS's on destroy.
    expect(tags.filter((t) => t.autoscaling_group_name.includes("pool-system"))).toEqual([]);
    const gpuTags = Object.fromEntries(tags.filter((t) => t.autoscaling_group_name.includes("pool-gpu")).map((t) => [t.tag.key, t.tag.value]));
    expect(gpuTags).toEqual({
      "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu": "1",
      [`k8s.io/cluster-autoscaler/node-template/label/${NODE_LABELS.pool}`]: "gpu",
      [`k8s.io/cluster-autoscaler/node-template/label/${NODE_LABELS.role}`]: "gpu",
      [`k8s.io/cluster-autoscaler/node-template/label/${NODE_LABELS.gpuModel}`]: "A10G",
      [`k8s.io/cluster-autoscaler/node-template/label/${NODE_LABELS.accelerator}`]: "nvidia-a10g",
      "k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu": "true:NoSchedule",
    });
    expect(cluster.gpuAutoScalingGroupNames).toHaveLength(1);
  });
});

describe("GpuCluster options", () => {
  test("a volume key from elsewhere (one that outlives the cluster): the EBS CSI role gets its grants through IAM on the key's tag, and the cluster key no longer serves volumes", () => {
    const volumeKey = { arn: "arn:aws:kms:eu-west-1:111122223333:key/retained", grantTag: { key: "voice-selfhost:retained-data", value: "dev" } };
    const { cluster, json } = synthCluster({ volumeKey });
    expect(cluster.volumeKeyArn).toBe(volumeKey.arn);
    const policy = JSON.parse(String(only(json, "aws_iam_role_policy").policy)) as { Statement: { Sid: string; Action: string[]; Resource: string; Condition: Record<string, object> }[] };
    expect(policy.Statement.map((st) => [st.Sid, st.Resource, st.Condition.StringEquals])).toEqual([
      ["EncryptVolumes", "*", { "aws:ResourceTag/voice-selfhost:retained-data": "dev" }],
      ["GrantsForAttachedVolumes", "*", { "aws:ResourceTag/voice-selfhost:retained-data": "dev" }],
    ]);
    expect(policy.Statement[1]).toMatchObject({ Action: expect.arrayContaining(["kms:CreateGrant"]), Condition: { Bool: { "kms:GrantIsForAWSResource": true } } });
    expect(String(only(json, "aws_kms_key_policy").policy)).not.toContain("EbsCsiDriverEncryptsVolumes");
    // The ARN is not used in this stack: a stack holding the cluster needs nothing of the key's stack's state.
    expect(JSON.stringify(json)).not.toContain(volumeKey.arn);
  });

  test("an admin role gets an access entry with the cluster admin policy", () => {
    const { json } = synthCluster({ adminRoleArn: "arn:aws:iam::111122223333:role/platform-admin" });
    expect(only(json, "aws_eks_access_entry")).toMatchObject({ principal_arn: "arn:aws:iam::111122223333:role/platform-admin", type: "STANDARD" });
    const association = only(json, "aws_eks_access_policy_association") as Record<string, any>;
    expect(association.policy_arn).toMatch(/:eks::aws:cluster-access-policy\/AmazonEKSClusterAdminPolicy$/);
    expect(association.access_scope).toEqual({ type: "cluster" });
  });

  test("a public endpoint opens only for the named CIDRs", () => {
    const { json } = synthCluster({ publicEndpoint: { enabled: true, cidrs: ["198.51.100.0/24"] } });
    expect(only(json, "aws_eks_cluster").vpc_config).toMatchObject({ endpoint_public_access: true, public_access_cidrs: ["198.51.100.0/24"] });
  });

  test("workload roles through Pod Identity, trusted only by the cluster, namespace and service account they are bound to", () => {
    const { stack } = testStack();
    const cluster = new GpuCluster(stack, "c", { network: fakeNetwork(), name: "voice-test" });
    cluster.addPodIdentityRole("inference", { namespace: "voice-selfhost", serviceAccount: "inference-server" });
    const json = synthJson(stack);
    expect(only(json, "aws_eks_pod_identity_association")).toMatchObject({ namespace: "voice-selfhost", service_account: "inference-server" });
    const role = Object.entries(resources(json, "aws_iam_role")).find(([id]) => id.includes("inference"))![1];
    // The EKS User Guide's trust policy for Pod Identity, with the session-tag conditions it documents.
    expect(policyStatements(json, role.assume_role_policy)).toEqual({
      ServiceAssumesRole: {
        Sid: "ServiceAssumesRole",
        Effect: "Allow",
        Principal: { Service: "pods.eks.amazonaws.com" },
        Action: ["sts:AssumeRole", "sts:TagSession"],
        Condition: {
          StringEquals: {
            "aws:RequestTag/eks-cluster-name": "voice-test",
            "aws:RequestTag/kubernetes-namespace": "voice-selfhost",
            "aws:RequestTag/kubernetes-service-account": "inference-server",
          },
        },
      },
    });
    // The EBS CSI driver's role, which the add-on binds, is scoped the same way.
    const ebs = Object.entries(resources(json, "aws_iam_role")).find(([id]) => id.includes("ebs-csi"))![1];
    expect(policyStatements(json, ebs.assume_role_policy).ServiceAssumesRole.Condition).toEqual({
      StringEquals: { "aws:RequestTag/eks-cluster-name": "voice-test", "aws:RequestTag/kubernetes-namespace": "kube-system", "aws:RequestTag/kubernetes-service-account": "ebs-csi-controller-sa" },
    });
  });

  test("Bottlerocket pools keep data on a second encrypted volume; extra log types", () => {
    const { json } = synthCluster({
      gpuPools: [{ name: "l4", instanceTypes: ["g6.xlarge"], minSize: 0, maxSize: 3, amiType: "BOTTLEROCKET_x86_64_NVIDIA", amiReleaseVersion: "1.41.0-8f5e6c0e", diskSizeGiB: 120 }],
      extraLogTypes: ["scheduler"],
    });
    const lt = Object.entries(resources(json, "aws_launch_template")).find(([id]) => id.includes("pool-l4"))![1] as Record<string, any>;
    expect(lt.block_device_mappings.map((b: any) => [b.device_name, b.ebs.volume_size, b.ebs.encrypted])).toEqual([
      ["/dev/xvda", 4, "true"],
      ["/dev/xvdb", 120, "true"],
    ]);
    expect(only(json, "aws_eks_cluster").enabled_cluster_log_types).toEqual(["api", "audit", "authenticator", "scheduler"]);
  });
});

describe("GpuCluster refuses bad configs with a clear message", () => {
  const build = (props: Partial<ConstructorParameters<typeof GpuCluster>[2]>, mode: "connected" | "airgapped" = "connected") => () => {
    const { stack } = testStack();
    new GpuCluster(stack, "c", { network: fakeNetwork(mode), ...props });
  };

  test("an unknown GPU instance type, with close matches", () => {
    expect(build({ gpuPools: [{ name: "gpu", instanceTypes: ["g5.xlarg"], minSize: 0, maxSize: 1 }] })).toThrow(
      /gpuPools\[0\]\.instanceTypes\[0\]: expected a supported GPU instance type: "g5.xlarg" is not a supported GPU instance type; did you mean g5\.xlarge/,
    );
    expect(build({ gpuPools: [{ name: "gpu", instanceTypes: ["m5.large"], minSize: 0, maxSize: 1 }] })).toThrow(/supported families: g4dn, g5, g6, g6e, p4d, p4de, p5, p5e/);
  });

  test("a pool with max 0, or max below min", () => {
    expect(build({ gpuPools: [{ name: "gpu", instanceTypes: ["g5.xlarge"], minSize: 0, maxSize: 0 }] })).toThrow(/gpuPools\[0\]\.maxSize: a pool with max 0 can never run a pod/);
    expect(build({ gpuPools: [{ name: "gpu", instanceTypes: ["g5.xlarge"], minSize: 3, maxSize: 2 }] })).toThrow(/gpuPools\[0\]\.maxSize: expected maxSize >= minSize \(3\), found 2/);
  });

  test("a public endpoint without CIDRs, open to the world, or in an air-gapped network", () => {
    expect(build({ publicEndpoint: { enabled: true } })).toThrow(/GpuCluster test\/c: publicEndpoint\.cidrs: expected at least one CIDR when the public endpoint is enabled/);
    expect(build({ publicEndpoint: { enabled: true, cidrs: ["0.0.0.0/0"] } })).toThrow(/publicEndpoint\.cidrs\[0\]: expected a CIDR narrower than 0\.0\.0\.0\/0: it would open the API to the internet, found "0\.0\.0\.0\/0"/);
    expect(build({ publicEndpoint: { enabled: true, cidrs: ["198.51.100.0/24"] } }, "airgapped")).toThrow(/publicEndpoint\.enabled: expected false in airgapped mode: the network has no internet route/);
  });

  test("a pool mixing GPU types, a duplicate pool name, a service CIDR inside the VPC", () => {
    expect(build({ gpuPools: [{ name: "gpu", instanceTypes: ["g5.xlarge", "g5.12xlarge"], minSize: 0, maxSize: 1 }] })).toThrow(/gpuPools\[0\]\.instanceTypes\[1\]: expected the shape of g5\.xlarge \(4 vCPU, 16 GiB, 1x A10G\): the autoscaler sizes scale-from-zero nodes from a pool's first type, and g5\.12xlarge has 48 vCPU, 192 GiB, 4x A10G/);
    const pool = { name: "gpu", instanceTypes: ["g5.xlarge"], minSize: 0, maxSize: 1 };
    expect(build({ gpuPools: [pool, pool] })).toThrow(/gpuPools\[1\]\.name: expected a unique pool name; "gpu" is used twice/);
    expect(build({ serviceCidr: "10.40.128.0/20" })).toThrow(/serviceCidr: expected a CIDR that does not overlap vpcCidr 10\.40\.0\.0\/16/);
  });
});

describe("GPU instance table", () => {
  test("covers g4dn, g5, g6, g6e, p4d and p5 with consistent figures", () => {
    for (const family of ["g4dn", "g5", "g6", "g6e", "p4d", "p5"]) {
      expect(Object.keys(GPU_INSTANCE_TYPES).some((t) => t.startsWith(`${family}.`))).toBe(true);
    }
    for (const [name, t] of Object.entries(GPU_INSTANCE_TYPES)) {
      expect([name, t.gpusPerNode > 0 && t.gpuMemoryGiB >= 16 && t.vcpus >= 4 && t.memoryGiB >= t.vcpus * 4]).toEqual([name, true]);
    }
    expect(gpuInstanceType("g6e.12xlarge", "x")).toEqual({ gpuModel: "L40S", gpusPerNode: 4, gpuMemoryGiB: 48, vcpus: 48, memoryGiB: 384 });
    expect(gpuInstanceType("p5.48xlarge", "x")).toMatchObject({ gpuModel: "H100", gpusPerNode: 8, gpuMemoryGiB: 80 });
  });
});

test("a GPU pool's own tags go on its node group at creation, on top of the cluster's, and on no other pool", () => {
  const { json } = synthCluster({
    tags: { team: "speech" },
    gpuPools: [
      { name: "a10g", instanceTypes: ["g5.xlarge"], minSize: 0, maxSize: 2, tags: { "cost-center": "asr" } },
      { name: "l4", instanceTypes: ["g6.xlarge"], minSize: 0, maxSize: 2 },
    ],
  });
  const groups = Object.values(resources(json, "aws_eks_node_group")) as Record<string, any>[];
  const byPool = (pool: string) => groups.find((g) => String(g.node_group_name_prefix).startsWith(`${pool}-`))!;
  expect(byPool("a10g").tags).toMatchObject({ team: "speech", "cost-center": "asr" });
  expect(byPool("l4").tags).toMatchObject({ team: "speech" });
  expect(byPool("l4").tags).not.toHaveProperty("cost-center");
  // The launch template keeps the cluster's tags only.
  for (const template of Object.values(resources(json, "aws_launch_template"))) expect(template.tags).not.toHaveProperty("cost-center");
});
