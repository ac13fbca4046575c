/**
 * Who may use the private Kubernetes API and how they get to it: named admin principals, 443 from
 * declared operator networks, or a Session Manager admin host; nodes reachable through SSM too. A
 * workloads stack with no admin principal or no path to the API is a synth error.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigError, EnvironmentInput, parseEnvironment } from "../../app";
import { GpuCluster } from "../../constructs/cluster";
import { evaluate, JsonObject, StackView } from "../../constructs/policy";
import { setKeyAccess } from "../../constructs/shared";
import { buildApp } from "../../main";
import { fakeNetwork, policyStatements, resources, Synthesized, synthJson, testStack } from "../support/synth";

const ADMIN = "arn:aws:iam::111122223333:role/platform-admin";
const BREAK_GLASS = "arn:aws:iam::111122223333:user/break-glass";
const DEPLOY = "arn:aws:iam::111122223333:role/voice-selfhost-deploy";

function synthCluster(props: Partial<ConstructorParameters<typeof GpuCluster>[2]> = {}): Synthesized {
  const { stack } = testStack();
  new GpuCluster(stack, "c", { network: fakeNetwork(), supportCheckDate: new Date("2026-12-07T12:00:00Z"), ...props });
  return synthJson(stack);
}
/** Access entries' principals by construct id (the logical id without its hash). */
const principalsById = (json: Synthesized) => Object.fromEntries(Object.entries(resources(json, "aws_eks_access_entry")).map(([id, e]) => [id.replace(/_[0-9A-F]{8}$/, ""), e.principal_arn]));
const byId = (json: Synthesized, type: string, fragment: string) => Object.entries(resources(json, type)).filter(([id]) => id.includes(fragment)).map(([, r]) => r);

describe("admin principals", () => {
  test("each gets a cluster-admin access entry; the first keeps the address the single adminRoleArn had", () => {
    const json = synthCluster({ adminPrincipalArns: [ADMIN, BREAK_GLASS] });
    const entries = principalsById(json);
    expect(entries).toEqual({ "c_admin-access": ADMIN, "c_admin-access-1": BREAK_GLASS });
    const policies = Object.values(resources(json, "aws_eks_access_policy_association"));
    expect(policies.map((p) => String(p.policy_arn).split("/").pop())).toEqual(["AmazonEKSClusterAdminPolicy", "AmazonEKSClusterAdminPolicy"]);
    const legacy = synthCluster({ adminRoleArn: ADMIN });
    expect(Object.keys(resources(legacy, "aws_eks_access_entry"))).toEqual(Object.keys(resources(json, "aws_eks_access_entry")).filter((id) => id.startsWith("c_admin-access_")));
  });

  test("the deprecated adminRoleArn comes first and is not repeated", () => {
    const json = synthCluster({ adminRoleArn: ADMIN, adminPrincipalArns: [BREAK_GLASS, ADMIN] });
    expect(principalsById(json)).toEqual({ "c_admin-access": ADMIN, "c_admin-access-1": BREAK_GLASS });
  });
});

describe("the path to the private endpoint", () => {
  test("443 on the cluster security group from each declared operator CIDR and security group, nothing else", () => {
    const json = synthCluster({ apiAccess: { cidrs: ["10.200.0.0/22"], securityGroupIds: ["sg-0123456789abcdef0"] } });
    const rules = Object.values(resources(json, "aws_vpc_security_group_ingress_rule"));
    expect(rules.map((r) => [r.security_group_id, r.from_port, r.to_port, r.ip_protocol, r.cidr_ipv4 ?? r.referenced_security_group_id])).toEqual([
      [expect.stringMatching(/aws_eks_cluster\.c_cluster_\w+\.vpc_config\[0\]\.cluster_security_group_id/), 443, 443, "tcp", "10.200.0.0/22"],
      [expect.stringMatching(/cluster_security_group_id/), 443, 443, "tcp", "sg-0123456789abcdef0"],
    ]);
  });

  test("a CIDR of everything is refused", () => {
    expect(() => synthCluster({ apiAccess: { cidrs: ["0.0.0.0/0"] } })).toThrow(/apiAccess\.cidrs\[0\]: expected the operators' network, narrower than 0\.0\.0\.0\/0/);
  });
});

describe("the Session Manager admin host", () => {
  const json = synthCluster({ adminPrincipalArns: [ADMIN], adminHost: { enabled: true } });
  const [instance] = Object.values(resources(json, "aws_instance"));
  const [template] = byId(json, "aws_launch_template", "admin-host");

  test("a private instance from a launch template: AL2023 resolved at launch, IMDSv2 hop 1, encrypted root volume", () => {
    expect(instance).toMatchObject({ instance_type: "t3.small", associate_public_ip_address: false, subnet_id: "subnet-a", metadata_options: { http_tokens: "required", http_put_response_hop_limit: 1 } });
    expect(template).toMatchObject({
      image_id: "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
      metadata_options: { http_tokens: "required", http_put_response_hop_limit: 1 },
      block_device_mappings: [{ device_name: "/dev/xvda", ebs: { encrypted: "true", kms_key_id: expect.stringContaining("aws_kms_key.c_admin-host_key") } }],
    });
  });

  test("its root volume has a key of its own, which only EC2 uses for the key administrators who launch it", () => {
    const { stack } = testStack();
    setKeyAccess(stack, { administrators: [DEPLOY], users: ["arn:aws:iam::111122223333:role/model-publisher"] });
    new GpuCluster(stack, "c", { network: fakeNetwork(), supportCheckDate: new Date("2026-12-07T12:00:00Z"), adminPrincipalArns: [ADMIN], adminHost: { enabled: true } });
    const synthesized = synthJson(stack);
    const policies = Object.entries(resources(synthesized, "aws_kms_key_policy")).map(([id, p]) => [id, policyStatements(synthesized, p.policy)] as const);
    const hostKey = policies.find(([id]) => id.includes("admin-host"))![1];
    expect(hostKey.KeyAdministratorsLaunchVolumesThroughEc2).toMatchObject({
      Principal: { AWS: [DEPLOY] },
      Action: ["kms:GenerateDataKeyWithoutPlaintext", "kms:Decrypt", "kms:ReEncrypt*", "kms:DescribeKey"],
      Condition: { StringEquals: { "kms:ViaService": expect.stringMatching(/^ec2\.\$\{local\.\S+\}\.amazonaws\.com$/), "kms:CallerAccount": expect.any(String) } },
    });
    // The cluster's key, which encrypts secrets, logs and volumes, gives the administrators no such use.
    const clusterKey = policies.find(([id]) => id.startsWith("c_key_policy"))![1];
    expect(clusterKey.KeyAdministratorsLaunchVolumesThroughEc2).toBeUndefined();
  });

  test("its role: SSM core and DescribeCluster on this cluster only; read-only in the cluster", () => {
    const [role] = byId(json, "aws_iam_role", "admin-host");
    expect(String(role.assume_role_policy)).toContain("ec2.amazonaws.com");
    const attached = byId(json, "aws_iam_role_policy_attachment", "admin-host").map((a) => String(a.policy_arn).split("/").pop());
    expect(attached).toEqual(["AmazonSSMManagedInstanceCore"]);
    const [inline] = byId(json, "aws_iam_role_policy", "admin-host");
    expect(Object.values(policyStatements(json, inline.policy))).toEqual([
      { Sid: "DescribeThisCluster", Effect: "Allow", Action: "eks:DescribeCluster", Resource: expect.stringMatching(/aws_eks_cluster\.c_cluster_\w+\.arn/) },
    ]);
    const view = byId(json, "aws_eks_access_policy_association", "admin-host");
    expect(view.map((p) => String(p.policy_arn).split("/").pop())).toEqual(["AmazonEKSViewPolicy"]);
  });

  test("no inbound port; HTTPS into the VPC only; the cluster security group admits it on 443", () => {
    const [sg] = byId(json, "aws_security_group", "admin-host");
    expect(sg.ingress).toBeUndefined();
    const egress = Object.values(resources(json, "aws_vpc_security_group_egress_rule"));
    expect(egress.map((e) => [e.from_port, e.to_port, e.cidr_ipv4])).toEqual([[443, 443, fakeNetwork().vpcCidr]]);
    const ingress = Object.values(resources(json, "aws_vpc_security_group_ingress_rule"));
    expect(ingress).toEqual([expect.objectContaining({ from_port: 443, referenced_security_group_id: expect.stringMatching(/aws_security_group\.c_admin-host_sg_\w+\.id/) })]);
  });

  test("passes the instance rules (IMDSv2, hop limit, encrypted volumes)", () => {
    const report = evaluate(new StackView("test", json as unknown as JsonObject), { mode: "airgapped" });
    expect(report.violations.filter((v) => /^VS-(EC2|AIR|NET)-/.test(v.rule))).toEqual([]);
    expect(report.rules.find((r) => r.id === "VS-EC2-003")?.status).toBe("pass");
  });
});

test("nodes are reachable through Session Manager: the node role carries SSM core", () => {
  const json = synthCluster();
  const attached = byId(json, "aws_iam_role_policy_attachment", "node-").map((a) => String(a.policy_arn).split("/").pop());
  expect(attached).toContain("AmazonSSMManagedInstanceCore");
});

describe("an environment's workloads stack", () => {
  const root = path.resolve(__dirname, "../..");
  const document = (name: string) => JSON.parse(fs.readFileSync(path.join(root, "environments", `${name}.json`), "utf8")) as EnvironmentInput & { cluster: Record<string, unknown> };
  let outdir: string;
  beforeEach(() => {
    outdir = fs.mkdtempSync(path.join(os.tmpdir(), "api-access-"));
  });
  afterEach(() => fs.rmSync(outdir, { recursive: true, force: true }));
  const problems = (doc: EnvironmentInput, name: string): string[] => {
    try {
      buildApp({ outdir, environments: [parseEnvironment(doc, `environments/${name}.json`)] });
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    return [];
  };

  test("with no admin principal is a synth error naming the field", () => {
    const dev = document("dev");
    expect(problems({ ...dev, cluster: { ...dev.cluster, adminPrincipalArns: [] } }, "dev")).toEqual([
      'environments/dev.json: field "cluster.adminPrincipalArns": expected at least one IAM role or user ARN: the workloads are deployed through the Kubernetes API, and with creator bootstrap off nobody else is granted access to it',
    ]);
  });

  test("with no path to the private API is a synth error naming the field", () => {
    const staging = document("staging");
    expect(problems({ ...staging, cluster: { ...staging.cluster, apiAccess: { cidrs: [] } } }, "staging")).toEqual([
      expect.stringMatching(/^environments\/staging\.json: field "cluster\.apiAccess": expected cidrs or securityGroupIds that reach the private API endpoint .* or adminHost\.enabled/),
    ]);
  });

  test("a CIDR-restricted public endpoint or the admin host is a path too", () => {
    const staging = document("staging");
    expect(problems({ ...staging, cluster: { ...staging.cluster, apiAccess: {}, publicEndpoint: { enabled: true, cidrs: ["198.51.100.0/24"] } } }, "staging")).toEqual([]);
    expect(problems({ ...staging, cluster: { ...staging.cluster, apiAccess: {}, adminHost: { enabled: true } } }, "staging")).toEqual([]);
  });

  test("airgapped reaches its API through the admin host, whose id the infra stack outputs", () => {
    const env = parseEnvironment(document("airgapped"), "environments/airgapped.json");
    buildApp({ outdir, environments: [env] }).synth();
    const infra = JSON.parse(fs.readFileSync(path.join(outdir, "stacks", "airgapped-infra", "cdk.tf.json"), "utf8")) as Synthesized & { output: Record<string, { value: string }> };
    expect(Object.keys(resources(infra, "aws_instance"))).toHaveLength(1);
    expect(infra.output.admin_host_instance_id.value).toMatch(/aws_instance\.cluster_admin-host_instance_\w+\.id/);
  });
});
