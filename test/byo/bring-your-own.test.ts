/** Bring your own VPC, cluster and repositories: what the caller declares is checked at synth, and the constructs build on it. */
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Testing, TerraformStack } from "cdktf";
import { ExistingCluster, ExistingClusterProps } from "../../constructs/cluster";
import { INTERFACE_ENDPOINT_SERVICES, ExistingNetwork, ExistingNetworkProps, PrivateNetwork } from "../../constructs/network";
import { PrivateRegistry } from "../../constructs/registry";
import { InternalLoadBalancer } from "../../constructs/ingress";

type Resources = Record<string, Record<string, Record<string, unknown>>>;
type Synth = { resource?: Resources; data?: Resources; output?: Resources };

const subnets = [
  { subnetId: "subnet-0a1b2c3d4e5f60001", availabilityZone: "eu-west-1a" },
  { subnetId: "subnet-0a1b2c3d4e5f60002", availabilityZone: "eu-west-1b" },
];
const endpointIds = Object.fromEntries(INTERFACE_ENDPOINT_SERVICES.map((s, i) => [s, `vpce-${String(i).padStart(17, "0")}`]));
const connected: ExistingNetworkProps = {
  vpcId: "vpc-0a1b2c3d4e5f60000",
  vpcCidr: "10.60.0.0/16",
  mode: "connected",
  privateSubnets: subnets,
  endpointSecurityGroupId: "sg-0a1b2c3d4e5f60000",
  s3GatewayEndpointId: "vpce-0a1b2c3d4e5f6aaaa",
};
const airgapped: ExistingNetworkProps = { ...connected, mode: "airgapped", interfaceEndpointIds: endpointIds };

function stack(): TerraformStack {
  const s = new TerraformStack(Testing.app(), "byo");
  new AwsProvider(s, "aws", { region: "eu-west-1" });
  return s;
}
const network = (props: Partial<ExistingNetworkProps>, base = connected) => () => PrivateNetwork.fromExisting(stack(), "net", { ...base, ...props });

describe("PrivateNetwork.fromExisting", () => {
  test("gives NetworkRefs in AZ order and creates nothing", () => {
    const s = stack();
    const net = PrivateNetwork.fromExisting(s, "net", { ...airgapped, privateSubnets: [...subnets].reverse() });
    expect(net).toBeInstanceOf(ExistingNetwork);
    expect(net.availabilityZones).toEqual(["eu-west-1b", "eu-west-1a"]);
    expect(net.privateSubnetIds).toEqual(["subnet-0a1b2c3d4e5f60002", "subnet-0a1b2c3d4e5f60001"]);
    expect(net.region).toBe("eu-west-1");
    expect(net.interfaceEndpointIds["ecr.dkr"]).toBe(endpointIds["ecr.dkr"]);
    expect((JSON.parse(Testing.synth(s)) as Synth).resource).toBeUndefined();
  });

  test("subnets in one AZ only: names the prop and the fix", () => {
    const oneAz = [subnets[0], { subnetId: "subnet-0a1b2c3d4e5f60003", availabilityZone: "eu-west-1a" }];
    expect(network({ privateSubnets: oneAz })).toThrow(
      /ExistingNetwork byo\/net: privateSubnets: expected one private subnet in each of 2 or 3 availability zones, found 2 subnet\(s\), all in eu-west-1a; add a private subnet from another AZ/,
    );
    expect(network({ privateSubnets: [] })).toThrow(/privateSubnets: .*found no subnets/);
  });

  test("two subnets in one AZ, four AZs, AZs of two regions", () => {
    const twoInA = [...subnets, { subnetId: "subnet-0a1b2c3d4e5f60003", availabilityZone: "eu-west-1a" }];
    expect(network({ privateSubnets: twoInA })).toThrow(/privateSubnets: expected exactly one private subnet per availability zone, found 2 in eu-west-1a \(subnet-0a1b2c3d4e5f60001, subnet-0a1b2c3d4e5f60003\); keep one/);
    const fourAzs = ["a", "b", "c", "d"].map((z, i) => ({ subnetId: `subnet-0a1b2c3d4e5f6000${i}`, availabilityZone: `eu-west-1${z}` }));
    expect(network({ privateSubnets: fourAzs })).toThrow(/privateSubnets: expected 2 or 3 availability zones, found 4/);
    const mixed = [subnets[0], { subnetId: "subnet-0a1b2c3d4e5f60003", availabilityZone: "eu-central-1a" }];
    expect(network({ privateSubnets: mixed })).toThrow(/privateSubnets\[\]\.availabilityZone: expected every AZ in region eu-west-1, found "eu-central-1a"/);
  });

  test("air-gapped without the ECR endpoints: names them, the prop and the fix", () => {
    const withoutEcr = Object.fromEntries(Object.entries(endpointIds).filter(([s]) => !s.startsWith("ecr.")));
    expect(network({ interfaceEndpointIds: withoutEcr }, airgapped)).toThrow(
      /interfaceEndpointIds: an air-gapped network needs an interface endpoint for every service in INTERFACE_ENDPOINT_SERVICES; missing ecr\.api, ecr\.dkr\..*declare their ids, e\.g\. interfaceEndpointIds: \{ "ecr\.api": "vpce-\.\.\." \}/,
    );
    expect(network({ interfaceEndpointIds: undefined }, airgapped)).toThrow(new RegExp(`missing ${INTERFACE_ENDPOINT_SERVICES.join(", ").replace(/\./g, "\\.")}\\.`));
    // Connected VPCs have their own egress: endpoints are optional there.
    expect(network({ interfaceEndpointIds: undefined })).not.toThrow();
  });

  test("malformed ids, an unknown endpoint service, a bad CIDR", () => {
    expect(network({ vpcId: "vpc-123" })).toThrow(/vpcId: expected an id like vpc-0123456789abcdef0, found "vpc-123"/);
    expect(network({ endpointSecurityGroupId: "" })).toThrow(/endpointSecurityGroupId: expected an id like sg-/);
    expect(network({ privateSubnets: [subnets[0], { subnetId: "sn-1", availabilityZone: "eu-west-1b" }] })).toThrow(/privateSubnets\[1\]\.subnetId: expected an id like subnet-/);
    expect(network({ interfaceEndpointIds: { ...endpointIds, "ecr-api": "vpce-0a1b2c3d4e5f6aaaa" } as ExistingNetworkProps["interfaceEndpointIds"] })).toThrow(
      /interfaceEndpointIds: unknown service "ecr-api"/,
    );
    expect(network({ vpcCidr: "10.60.0.0/33" })).toThrow(/vpcCidr: expected the VPC's IPv4 CIDR/);
  });
});

describe("ExistingNetwork.allowS3Reads", () => {
  test("records what the caller's S3 gateway endpoint must admit, and warns at synth when air-gapped", () => {
    const s = stack();
    const net = PrivateNetwork.fromExisting(s, "net", airgapped);
    net.allowS3Reads("ModelBucket", ["arn:aws:s3:::models"]);
    expect(net.requiredS3Reads).toEqual([
      { Sid: "ModelBucket", Effect: "Allow", Principal: "*", Action: ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"], Resource: ["arn:aws:s3:::models", "arn:aws:s3:::models/*"] },
    ]);
    const warnings = net.node.metadata.filter((m) => m.type === "@cdktf/warn").map((m) => String(m.data));
    expect(warnings).toEqual([expect.stringMatching(/S3 gateway endpoint vpce-0a1b2c3d4e5f6aaaa is not managed here; its policy must allow .*arn:aws:s3:::models\/\*/)]);
    expect(() => net.allowS3Reads("ModelBucket", ["arn:aws:s3:::other"])).toThrow(/duplicate statement id ModelBucket/);
  });

  test("connected: records the statement without a warning (the endpoint keeps AWS's open default)", () => {
    const net = PrivateNetwork.fromExisting(stack(), "net", connected);
    net.allowS3Reads("ModelBucket", ["arn:aws:s3:::models"]);
    expect(net.requiredS3Reads).toHaveLength(1);
    expect(net.node.metadata.filter((m) => m.type === "@cdktf/warn")).toEqual([]);
  });
});

describe("ExistingNetwork subnet CIDRs", () => {
  test("declared for every subnet: they become privateSubnetCidrs, in AZ order, and the load balancer's health-check sources", () => {
    const net = PrivateNetwork.fromExisting(stack(), "net", {
      ...connected,
      privateSubnets: [
        { ...subnets[1], cidr: "10.60.32.0/19" },
        { ...subnets[0], cidr: "10.60.0.0/19" },
      ],
    });
    expect(net.privateSubnetCidrs).toEqual(["10.60.32.0/19", "10.60.0.0/19"]);
  });

  test("left out (or declared for some only): none, so consumers fall back to the VPC CIDR; a malformed one fails", () => {
    expect(PrivateNetwork.fromExisting(stack(), "net", { ...connected, privateSubnets: [{ ...subnets[0], cidr: "10.60.0.0/19" }, subnets[1]] }).privateSubnetCidrs).toBeUndefined();
    expect(network({ privateSubnets: [{ ...subnets[0], cidr: "10.60.0.1/19" }, subnets[1]] })).toThrow(/privateSubnets\[0\]\.cidr: expected the subnet's IPv4 CIDR/);
  });
});

describe("ExistingCluster", () => {
  const attach = (props: Partial<ExistingClusterProps> = {}) => {
    const s = stack();
    const net = PrivateNetwork.fromExisting(s, "net", airgapped);
    const cluster = new ExistingCluster(s, "cluster", { clusterName: "platform-eks", network: net, ...props });
    return { s, net, cluster };
  };

  test("reads the cluster by name and attaches GPU node groups to it", () => {
    const { s, cluster } = attach({ gpuPools: [{ name: "l4", instanceTypes: ["g6.xlarge"], minSize: 0, maxSize: 3 }] });
    const json = JSON.parse(Testing.synth(s)) as Synth;
    const data = Object.values(json.data!.aws_eks_cluster);
    expect(data).toHaveLength(1);
    expect(data[0].name).toBe("platform-eks");
    // At plan, the data source fails if no cluster has the name, and the postcondition if it is in another VPC.
    expect(JSON.stringify(data[0].lifecycle)).toMatch(/self\.vpc_config\.0\.vpc_id == /);
    expect(JSON.stringify(data[0].lifecycle)).toContain("vpc-0a1b2c3d4e5f60000");
    const groups = Object.values(json.resource!.aws_eks_node_group);
    expect(groups).toHaveLength(1);
    expect(groups[0].cluster_name).toMatch(/^\$\{data\.aws_eks_cluster\./);
    expect(groups[0].subnet_ids).toEqual(["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]);
    expect(groups[0].ami_type).toBe("AL2023_x86_64_NVIDIA");
    expect(groups[0].taint).toEqual([{ key: "nvidia.com/gpu", value: "true", effect: "NO_SCHEDULE" }]);
    const templates = Object.values(json.resource!.aws_launch_template);
    expect(templates[0].metadata_options).toMatchObject({ http_tokens: "required", http_put_response_hop_limit: 1 });
    expect(JSON.stringify(templates[0].block_device_mappings)).toContain('"encrypted":"true"');
    expect(Object.keys(json.resource!)).not.toContain("aws_eks_cluster");
    expect(cluster.gpuPoolSpecs[0].gpu.gpuModel).toBe("L4");
  });

  test("a Pod Identity role on an existing cluster trusts only that cluster, namespace and service account", () => {
    const { s, cluster } = attach();
    cluster.addPodIdentityRole("inference", { namespace: "voice-selfhost", serviceAccount: "inference-server" });
    const json = JSON.parse(Testing.synth(s)) as Synth;
    const role = Object.entries(json.resource!.aws_iam_role).find(([id]) => id.includes("inference"))![1];
    const [statement] = JSON.parse(String(role.assume_role_policy)).Statement;
    expect(statement.Condition).toEqual({
      StringEquals: { "aws:RequestTag/eks-cluster-name": "platform-eks", "aws:RequestTag/kubernetes-namespace": "voice-selfhost", "aws:RequestTag/kubernetes-service-account": "inference-server" },
    });
  });

  test("an empty or malformed cluster name fails at synth with the prop and the fix", () => {
    for (const clusterName of ["", "my cluster", "-leading-dash", "x".repeat(101)]) {
      expect(() => attach({ clusterName })).toThrow(
        /ExistingCluster byo\/cluster: clusterName: expected the name of an existing EKS cluster .* pass the name `aws eks list-clusters` shows \(whether it exists is checked at plan/,
      );
    }
  });

  test("GPU pools get GpuCluster's checks", () => {
    expect(() => attach({ gpuPools: [{ name: "gpu", instanceTypes: ["g5.xlarg"], minSize: 0, maxSize: 2 }] })).toThrow(/gpuPools\[0\]/);
    expect(() => attach({ gpuPools: [] })).toThrow(/gpuPools: expected at least one GPU pool/);
  });

  test("a load balancer and registry build on the existing network and cluster", () => {
    const { s, net, cluster } = attach();
    new InternalLoadBalancer(s, "ingress", {
      network: net,
      allowedClientCidrs: ["10.61.0.0/16"],
      targets: { autoScalingGroupNames: cluster.gpuAutoScalingGroupNames, nodeSecurityGroupId: cluster.clusterSecurityGroupId },
      plainTcp: true,
    });
    new PrivateRegistry(s, "registry", { network: net, pullerRoleArns: [cluster.nodeRoleArn] });
    const json = JSON.parse(Testing.synth(s)) as Synth;
    const lb = Object.values(json.resource!.aws_lb)[0];
    expect(lb.internal).toBe(true);
    expect(lb.subnets).toEqual(net.privateSubnetIds);
    expect(JSON.stringify(json.resource!.aws_ecr_repository_policy)).not.toContain("aws:sourceVpce");
    expect(JSON.stringify(json)).toContain(endpointIds["ecr.dkr"]);
  });
});

describe("PrivateRegistry with existing repositories", () => {
  const registry = (existingRepositories: Record<string, string>) => {
    const s = stack();
    const net = PrivateNetwork.fromExisting(s, "net", airgapped);
    const r = new PrivateRegistry(s, "registry", { network: net, pullerRoleArns: ["arn:aws:iam::111122223333:role/nodes"], existingRepositories });
    return { s, r };
  };

  test("reads listed repositories, creates the rest, and the manifest names the existing ones", () => {
    const { s, r } = registry({ nvidiaDevicePlugin: "platform/nvidia/k8s-device-plugin" });
    const json = JSON.parse(Testing.synth(s)) as Synth;
    expect(Object.values(json.data!.aws_ecr_repository).map((d) => d.name)).toEqual(["platform/nvidia/k8s-device-plugin"]);
    const created = Object.values(json.resource!.aws_ecr_repository).map((d) => d.name);
    expect(created).not.toContain("platform/nvidia/k8s-device-plugin");
    expect(created).toContain("voice-selfhost/inference-server");
    expect(r.repositories.nvidiaDevicePlugin).toBeUndefined();
    expect(r.images.nvidiaDevicePlugin.repositoryName).toBe("platform/nvidia/k8s-device-plugin");
    expect(JSON.stringify(json.output ?? {})).toBe("{}");
    expect(r.mirrorManifest.images.find((i) => i.name === "nvidiaDevicePlugin")!.repository).toBe("platform/nvidia/k8s-device-plugin");
  });

  test("an unknown image key or a malformed name fails with the prop", () => {
    expect(() => registry({ nvidiaPlugin: "platform/x" })).toThrow(/existingRepositories: unknown image "nvidiaPlugin"; expected keys of IMAGES \(inferenceServer, /);
    expect(() => registry({ dcgmExporter: "123.dkr.ecr.eu-west-1.amazonaws.com/dcgm" })).toThrow(/existingRepositories\.dcgmExporter: expected an ECR repository name/);
  });
});
