import { FlowLog } from "@cdktf/provider-aws/lib/flow-log";
import { InternetGateway } from "@cdktf/provider-aws/lib/internet-gateway";
import { NatGateway } from "@cdktf/provider-aws/lib/nat-gateway";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import { Testing, TerraformStack } from "cdktf";
import { EKS_ADDON_REGISTRY_ACCOUNTS, ENDPOINT_POLICY_DOCS, INTERFACE_ENDPOINT_SERVICES, PrivateNetwork, PrivateNetworkProps } from "../../constructs/network";

type Resources = Record<string, Record<string, Record<string, unknown>>>;

/** Synthesizes one network alone in a stack; returns the raw JSON (for matchers) and its resources. */
function synth(props: PrivateNetworkProps): { json: string; resources: Resources; network: PrivateNetwork } {
  const app = Testing.app();
  const stack = new TerraformStack(app, "test");
  new AwsProvider(stack, "aws", { region: "eu-west-1" });
  const network = new PrivateNetwork(stack, "net", props);
  const json = Testing.synth(stack);
  return { json, resources: (JSON.parse(json) as { resource: Resources }).resource, network };
}

const of = (resources: Resources, type: string) => Object.values(resources[type] ?? {});

interface Statement {
  Sid?: string;
  Principal?: { Service?: string };
  Action: string | string[];
  Resource?: string | string[];
  Condition?: unknown;
}
/** The statements of a synthesized policy document (JSON text, references left as `${...}`). */
const statements = (policy: unknown): Statement[] => (JSON.parse(String(policy)) as { Statement: Statement[] }).Statement;
const azs = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];

describe("PrivateNetwork, air-gapped", () => {
  const { json, resources, network } = synth({ cidr: "10.43.0.0/16", azs, mode: "airgapped" });

  test("has no internet gateway, NAT, egress-only gateway, public subnet or public IP", () => {
    expect(json).not.toHaveResource(InternetGateway);
    expect(json).not.toHaveResource(NatGateway);
    for (const type of ["aws_internet_gateway", "aws_nat_gateway", "aws_egress_only_internet_gateway", "aws_eip"]) {
      expect(resources[type]).toBeUndefined();
    }
    expect(network.publicSubnetIds).toEqual([]);
    expect(of(resources, "aws_subnet").map((s) => s.cidr_block)).toEqual(["10.43.0.0/18", "10.43.64.0/18", "10.43.128.0/18"]);
  });

  test("routes nothing to 0.0.0.0/0, and no security group rule names it", () => {
    expect(resources.aws_route).toBeUndefined();
    expect(json).not.toContain("0.0.0.0/0");
    expect(json).not.toContain("::/0");
  });

  test("has the S3 gateway endpoint on every private route table and every interface endpoint with private DNS", () => {
    const endpoints = of(resources, "aws_vpc_endpoint");
    const s3 = endpoints.filter((e) => e.vpc_endpoint_type === "Gateway");
    expect(s3).toHaveLength(1);
    expect(s3[0].service_name).toBe("com.amazonaws.eu-west-1.s3");
    expect(s3[0].route_table_ids).toHaveLength(3);

    const interfaces = endpoints.filter((e) => e.vpc_endpoint_type === "Interface");
    expect(interfaces.map((e) => e.service_name).sort()).toEqual(INTERFACE_ENDPOINT_SERVICES.map((s) => `com.amazonaws.eu-west-1.${s}`).sort());
    for (const e of interfaces) {
      expect(e).toMatchObject({ private_dns_enabled: true });
      expect(e.subnet_ids).toHaveLength(3);
      expect(e.security_group_ids).toHaveLength(1);
    }
    expect(Object.keys(network.interfaceEndpointIds).sort()).toEqual([...INTERFACE_ENDPOINT_SERVICES].sort());
  });

  test("the endpoint security group admits HTTPS from the VPC only and has no egress", () => {
    const rules = of(resources, "aws_vpc_security_group_ingress_rule");
    expect(rules).toEqual([expect.objectContaining({ ip_protocol: "tcp", from_port: 443, to_port: 443, cidr_ipv4: "10.43.0.0/16" })]);
    expect(resources.aws_vpc_security_group_egress_rule).toBeUndefined();
    const [sg] = of(resources, "aws_security_group");
    expect(sg.ingress).toBeUndefined();
    expect(sg.egress).toBeUndefined();
  });
});

describe("PrivateNetwork, connected", () => {
  test("one NAT gateway per AZ by default, each private route table through its own AZ's NAT", () => {
    const { json, resources } = synth({ cidr: "10.42.0.0/16", azs, mode: "connected" });
    expect(json).toHaveResource(InternetGateway);
    expect(of(resources, "aws_nat_gateway")).toHaveLength(3);
    const routes = of(resources, "aws_route");
    const natRoutes = routes.filter((r) => r.nat_gateway_id);
    expect(natRoutes.map((r) => r.nat_gateway_id)).toEqual([0, 1, 2].map((i) => expect.stringContaining(`aws_nat_gateway.net_nat-${i}_`)));
    // The only internet route is the NAT subnets' route to the internet gateway.
    expect(routes.filter((r) => r.gateway_id)).toHaveLength(1);
    const publicCidrs = of(resources, "aws_subnet").filter((s) => (s.tags as Record<string, string>)["voice-selfhost:tier"] === "nat");
    expect(publicCidrs.map((s) => s.cidr_block)).toEqual(["10.42.192.0/28", "10.42.192.16/28", "10.42.192.32/28"]);
  });

  test("a single NAT gateway when asked, shared by every private route table", () => {
    const { resources, network } = synth({ cidr: "10.40.0.0/16", azs: azs.slice(0, 2), mode: "connected", natGateways: "single" });
    expect(of(resources, "aws_nat_gateway")).toHaveLength(1);
    expect(network.publicSubnetIds).toHaveLength(1);
    const natRoutes = of(resources, "aws_route").filter((r) => r.nat_gateway_id);
    expect(natRoutes).toHaveLength(2);
    expect(new Set(natRoutes.map((r) => r.nat_gateway_id)).size).toBe(1);
  });

  test("still has every VPC endpoint, so nodes never need NAT to join or pull", () => {
    const { resources } = synth({ cidr: "10.42.0.0/16", azs, mode: "connected" });
    expect(of(resources, "aws_vpc_endpoint")).toHaveLength(INTERFACE_ENDPOINT_SERVICES.length + 1);
  });
});

describe.each(["connected", "airgapped"] as const)("PrivateNetwork (%s), in both modes", (mode) => {
  const { json, resources } = synth({ cidr: "10.44.0.0/20", azs: azs.slice(0, 2), mode, clusterName: "voice" });

  test("the VPC resolves DNS (private endpoint DNS needs both settings)", () => {
    expect(json).toHaveResourceWithProperties(Vpc, { cidr_block: "10.44.0.0/20", enable_dns_support: true, enable_dns_hostnames: true });
  });

  test("no subnet maps public IPs on launch", () => {
    const subnets = of(resources, "aws_subnet");
    expect(subnets.length).toBeGreaterThanOrEqual(2);
    for (const s of subnets) expect(s.map_public_ip_on_launch).toBe(false);
  });

  test("private subnets are tagged for internal load balancers and cluster discovery", () => {
    const priv = of(resources, "aws_subnet").filter((s) => (s.tags as Record<string, string>)["voice-selfhost:tier"] === "private");
    expect(priv).toHaveLength(2);
    for (const s of priv) expect(s.tags).toMatchObject({ "kubernetes.io/role/internal-elb": "1", "kubernetes.io/cluster/voice": "shared" });
  });

  test("the default security group is adopted with no rules", () => {
    expect(of(resources, "aws_default_security_group")).toEqual([expect.objectContaining({ ingress: [], egress: [] })]);
  });

  test("all traffic is flow-logged to a log group encrypted with a rotating key that only this group's logs may use", () => {
    expect(json).toHaveResourceWithProperties(FlowLog, { traffic_type: "ALL", log_destination_type: "cloud-watch-logs" });
    const [group] = of(resources, "aws_cloudwatch_log_group");
    expect(group).toMatchObject({ name: "/vpc-flow-logs/test-net", retention_in_days: 365 });
    expect(group.kms_key_id).toMatch(/^\$\{aws_kms_key\.net_flow-log-key_\w+\.arn\}$/);
    const [key] = of(resources, "aws_kms_key");
    expect(key.enable_key_rotation).toBe(true);
    const [keyPolicy] = of(resources, "aws_kms_key_policy");
    expect(keyPolicy.key_id).toMatch(/^\$\{aws_kms_key\.net_flow-log-key_\w+\.key_id\}$/);
    // The log group waits for the key policy: CloudWatch Logs checks its grant when the group is created.
    expect(group.depends_on).toEqual([expect.stringMatching(/^aws_kms_key_policy\.net_flow-log-key_policy_\w+$/)]);
    const logs = statements(keyPolicy.policy).filter((st) => /^logs\./.test(st.Principal?.Service ?? ""));
    expect(logs).toEqual([
      expect.objectContaining({ Effect: "Allow", Condition: { ArnEquals: { "kms:EncryptionContext:aws:logs:arn": expect.stringMatching(/:log-group:\/vpc-flow-logs\/test-net$/) } } }),
    ]);
  });

  test("the flow-log role may only be assumed by this account's flow logs and only writes to its group", () => {
    const [role] = of(resources, "aws_iam_role");
    expect(statements(role.assume_role_policy)).toEqual([
      expect.objectContaining({
        Principal: { Service: "vpc-flow-logs.amazonaws.com" },
        Action: ["sts:AssumeRole"],
        Condition: { StringEquals: { "aws:SourceAccount": expect.any(String) }, ArnLike: { "aws:SourceArn": expect.stringMatching(/:vpc-flow-log\/\*$/) } },
      }),
    ]);
    const [policy] = of(resources, "aws_iam_role_policy");
    const granted = statements(policy.policy);
    expect(granted.flatMap((st) => st.Action)).not.toContain("logs:CreateLogGroup");
    expect(granted.find((st) => st.Action.includes("logs:PutLogEvents"))?.Resource).toEqual([
      expect.stringMatching(/^\$\{aws_cloudwatch_log_group\.\S+\.arn\}$/),
      expect.stringMatching(/^\$\{aws_cloudwatch_log_group\.\S+\.arn\}:log-stream:\*$/),
    ]);
    expect(of(resources, "aws_iam_role_policy_attachment")).toEqual([]);
  });

  test("uses no data sources, so a plan needs no credentials", () => {
    expect((JSON.parse(json) as { data?: unknown }).data).toBeUndefined();
  });
});

describe("PrivateNetwork's interface endpoints are a data perimeter", () => {
  const documented = INTERFACE_ENDPOINT_SERVICES.filter((s) => ENDPOINT_POLICY_DOCS[s] !== undefined);
  const byService = (resources: Resources) => new Map(of(resources, "aws_vpc_endpoint").map((e) => [String(e.service_name).replace("com.amazonaws.eu-west-1.", ""), e]));

  test("every service whose guide documents endpoint policies gets one: our principals on our resources, and AWS services acting for us", () => {
    const endpoints = byService(synth({ cidr: "10.46.0.0/16", azs, mode: "airgapped", organizationId: "o-a1b2c3d4e5" }).resources);
    expect(documented.length).toBeGreaterThanOrEqual(10);
    for (const service of documented) {
      const policy = statements(endpoints.get(service)!.policy);
      expect({ service, first: policy[0] }).toEqual({
        service,
        first: { Sid: "OwnPrincipalsToOwnResources", Effect: "Allow", Principal: "*", Action: "*", Resource: "*", Condition: { StringEquals: { "aws:PrincipalOrgID": "o-a1b2c3d4e5", "aws:ResourceOrgID": "o-a1b2c3d4e5" } } },
      });
      expect(policy[1]).toEqual({ Sid: "AwsServicePrincipals", Effect: "Allow", Principal: "*", Action: "*", Resource: "*", Condition: { Bool: { "aws:PrincipalIsAWSService": "true" } } });
      // Nothing admits every principal to everything without a condition.
      for (const st of policy) expect({ service, sid: st.Sid, scoped: st.Condition !== undefined }).toEqual({ service, sid: st.Sid, scoped: true });
    }
  });

  test("the ECR endpoints admit the region's EKS add-on registry (vpc-cni, coredns and the rest come from there); SSM admits AWS's own documents", () => {
    const endpoints = byService(synth({ cidr: "10.46.0.0/16", azs, mode: "connected" }).resources);
    for (const service of ["ecr.api", "ecr.dkr"]) {
      const addons = statements(endpoints.get(service)!.policy).find((st) => st.Sid === "OwnPrincipalsPullEksAddonImages")!;
      expect(addons.Action).toEqual(["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]);
      expect(addons.Condition).toEqual({ StringEquals: { "aws:PrincipalAccount": expect.stringMatching(/^\$\{local\.net_account_\w+\}$/), "aws:ResourceAccount": EKS_ADDON_REGISTRY_ACCOUNTS["eu-west-1"] } });
    }
    const ssm = statements(endpoints.get("ssm")!.policy).find((st) => st.Sid === "OwnPrincipalsReadAwsDocumentsAndParameters")!;
    expect(ssm.Resource).toEqual([expect.stringMatching(/:ssm:eu-west-1::document\/\*$/), expect.stringMatching(/:ssm:eu-west-1::parameter\/aws\/\*$/)]);
  });

  test("services without documented endpoint policies keep AWS's default, as a code acknowledgement with its reason", () => {
    const { resources, network } = synth({ cidr: "10.46.0.0/16", azs, mode: "airgapped" });
    const endpoints = byService(resources);
    const undocumented = INTERFACE_ENDPOINT_SERVICES.filter((s) => ENDPOINT_POLICY_DOCS[s] === undefined);
    expect(undocumented.sort()).toEqual(["ec2messages", "eks-auth", "ssmmessages"]);
    for (const service of undocumented) expect(endpoints.get(service)!.policy).toBeUndefined();
    const acknowledged = network.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === "voice-selfhost:policy-acknowledgement").map((m) => ({ path: c.node.path, ...(m.data as { rule: string; reason: string }) })));
    expect(acknowledged.map((a) => [a.rule, a.path]).sort()).toEqual(undocumented.map((s) => ["VS-NET-005", `test/net/endpoint-${s.replace(/\./g, "-")}`]).sort());
    for (const a of acknowledged) expect(a.reason).toMatch(/^(eks-auth|ssmmessages|ec2messages): no AWS guide documents endpoint-policy support, /);
  });

  test("a region with no known EKS add-on registry fails synth, naming the table to extend", () => {
    expect(() => synth({ cidr: "10.46.0.0/16", azs: ["xx-east-9a", "xx-east-9b"], mode: "connected" })).toThrow(/^PrivateNetwork test\/net: region: no EKS add-on image registry is known for region "xx-east-9".*EKS_ADDON_REGISTRY_ACCOUNTS/);
  });
});

describe("PrivateNetwork props are checked at synth", () => {
  const base: PrivateNetworkProps = { cidr: "10.45.0.0/16", azs: azs.slice(0, 2), mode: "airgapped" };
  test.each([
    [{ cidr: "10.45.0.1/16" }, 'cidr: expected an IPv4 CIDR with no host bits set, like 10.20.0.0/16, found "10.45.0.1/16"'],
    [{ cidr: "10.45.0.0/26" }, 'cidr: expected a prefix between /16 and /22 (each AZ\'s private subnet is a quarter of the VPC, and pods take VPC addresses), found "10.45.0.0/26"'],
    [{ cidr: "10.45.0.0/23" }, "cidr: expected a prefix between /16 and /22"],
    [{ azs: ["eu-west-1a"] }, "azs: expected 2 or 3 availability zones, found 1"],
    [{ azs: ["eu-west-1a", "eu-central-1b"] }, 'azs: expected every AZ in region eu-west-1, found "eu-central-1b"'],
    [{ azs: ["eu-west-1a", "west"] }, 'azs: expected AZ names like eu-west-1a, found "west"'],
    [{ flowLogRetentionDays: 100 }, "flowLogRetentionDays: expected one of CloudWatch Logs' retention periods (1, 3, 5,"],
  ] as [Partial<PrivateNetworkProps>, string][])("%j", (override, message) => {
    expect(() => synth({ ...base, ...override })).toThrow(`PrivateNetwork test/net: ${message}`);
  });
});
