/**
 * Owners expose their facts, and the stacks are built from them: checked across the synthesized JSON
 * of both stacks of every environment, the way Terraform and Kubernetes will read them.
 */
import { cidrContains, parseCidr } from "../../constructs/private/cidr";
import { INFERENCE_PORT } from "../../constructs/workloads/contract";
import { stockStacks } from "../support/stock-synth";
import { find, isInference, kubeObjects, StackJson } from "../workloads/support";

let stacks: Record<string, StackJson>;

beforeAll(() => {
  stacks = stockStacks<StackJson>();
});

const ENVIRONMENTS = ["airgapped", "dev", "prod", "staging"];
type Res = Record<string, any>;
const resourcesOf = (json: StackJson, type: string): Record<string, Res> => (json.resource?.[type] ?? {}) as Record<string, Res>;
/** `${aws_subnet.X.id}` -> the subnet resource X. */
const referenced = (json: StackJson, type: string, ref: string): Res => {
  const match = new RegExp(`^\\$\\{${type}\\.([^.]+)\\.id\\}$`).exec(ref);
  if (!match) throw new Error(`expected a reference to a ${type}, found ${ref}`);
  return resourcesOf(json, type)[match[1]];
};

describe.each(ENVIRONMENTS)("%s", (env) => {
  test("the inference ingress NetworkPolicy admits exactly what the load balancer delivers: the client CIDRs (client IP preserved), the cluster's VPC carved out", () => {
    const infra = stacks[`${env}-infra`];
    const targetGroups = Object.values(resourcesOf(infra, "aws_lb_target_group"));
    expect(targetGroups.length).toBeGreaterThan(0);
    for (const group of targetGroups) {
      expect(group.target_type).toBe("instance");
      expect(group.preserve_client_ip).toBe("true");
    }

    const [lb] = Object.values(resourcesOf(infra, "aws_lb"));
    const lbSubnetCidrs = (lb.subnets as string[]).map((ref) => referenced(infra, "aws_subnet", ref).cidr_block as string);
    const [sg] = Object.values(resourcesOf(infra, "aws_security_group")).filter((g) => g.name_prefix === "voice-nlb-");
    const sgRef = Object.entries(resourcesOf(infra, "aws_security_group")).find(([, g]) => g === sg)![0];
    const clientCidrs = Object.values(resourcesOf(infra, "aws_vpc_security_group_ingress_rule"))
      .filter((rule) => rule.security_group_id === `\${aws_security_group.${sgRef}.id}` && rule.cidr_ipv4)
      .map((rule) => rule.cidr_ipv4 as string);
    expect(clientCidrs.length).toBeGreaterThan(0);

    const vpcCidr = Object.values(resourcesOf(infra, "aws_vpc"))[0].cidr_block as string;
    const objects = kubeObjects(stacks[`${env}-workloads`]);
    const services = find(objects, "Deployment").filter(isInference);
    expect(services.length).toBeGreaterThan(0);
    const policies = services.map((d) => find(objects, "NetworkPolicy", `${d.metadata.name}-ingress`)[0]);
    for (const policy of policies) {
      const blocks = (policy.spec.ingress as { from: { ipBlock?: { cidr: string; except?: string[] } }[]; ports: { port: number }[] }[])
        .filter((rule) => rule.ports.some((p) => p.port === INFERENCE_PORT))
        .flatMap((rule) => rule.from.flatMap((f) => (f.ipBlock ? [f.ipBlock] : [])));
      // Exactly the client CIDRs, each less the cluster's VPC where it contains it: health checks stop at kube-proxy on the node.
      expect(blocks.map((b) => b.cidr)).toEqual(clientCidrs);
      for (const block of blocks) {
        const containsVpc = cidrContains(parseCidr(block.cidr)!, parseCidr(vpcCidr)!);
        expect(block.except ?? []).toEqual(containsVpc ? [vpcCidr] : []);
      }
      // No block reaches into the load balancer's own subnets but through a client CIDR with the VPC carved out.
      for (const subnet of lbSubnetCidrs) expect(blocks.filter((b) => cidrContains(parseCidr(b.cidr)!, parseCidr(subnet)!) && !(b.except ?? []).includes(vpcCidr))).toEqual([]);
    }
  });
});

test("air-gapped: the S3 gateway endpoint admits nothing for the model bucket (nothing in the cluster reads it)", () => {
  const infra = stacks["airgapped-infra"];
  const [endpoint] = Object.values(resourcesOf(infra, "aws_vpc_endpoint")).filter((e) => e.vpc_endpoint_type === "Gateway");
  const policy = JSON.parse(String(endpoint.policy)) as { Statement: { Sid: string }[] };
  expect(policy.Statement.map((s) => s.Sid)).toEqual(["EcrImageLayers"]);
});
