/**
 * Owners expose their facts, and the stacks are built from them: checked across the synthesized JSON
 * of both stacks of every environment, the way Terraform and Kubernetes will read them.
 */
import * as fs from "fs";
import { cidrContains, parseCidr } from "../../constructs/shared/cidr";
import { INFERENCE_PORT } from "../../constructs/workloads/contract";
import { find, isInference, kubeObjects, StackJson, synthAllEnvironments } from "../workloads/support";

let stacks: Record<string, StackJson>;
let outdir: string;

beforeAll(() => {
  ({ stacks, outdir } = synthAllEnvironments());
}, 120_000);

afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

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
  test("the inference ingress NetworkPolicy admits exactly what the load balancer delivers: the client CIDRs (client IP preserved) and its health checks (its subnets)", () => {
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

    const objects = kubeObjects(stacks[`${env}-workloads`]);
    const services = find(objects, "Deployment").filter(isInference);
    expect(services.length).toBeGreaterThan(0);
    const policies = services.map((d) => find(objects, "NetworkPolicy", `${d.metadata.name}-ingress`)[0]);
    for (const policy of policies) {
      const fromCidrs = (policy.spec.ingress as { from: { ipBlock?: { cidr: string } }[]; ports: { port: number }[] }[])
        .filter((rule) => rule.ports.some((p) => p.port === INFERENCE_PORT))
        .flatMap((rule) => rule.from.flatMap((f) => (f.ipBlock ? [f.ipBlock.cidr] : [])));
      // Nothing else is admitted: each block is a client CIDR or one of the load balancer's subnets.
      expect(fromCidrs.filter((c) => !clientCidrs.includes(c) && !lbSubnetCidrs.includes(c))).toEqual([]);
      // And all of it is: every client CIDR, and every subnet the health checks come from (listed or inside a client CIDR).
      const covered = (cidr: string) => fromCidrs.some((block) => cidrContains(parseCidr(block)!, parseCidr(cidr)!));
      expect([...clientCidrs, ...lbSubnetCidrs].filter((c) => !covered(c))).toEqual([]);
    }
  });
});

test("air-gapped: the S3 gateway endpoint's policy admits the model bucket (the bucket registers its reads itself)", () => {
  const infra = stacks["airgapped-infra"];
  const [endpoint] = Object.values(resourcesOf(infra, "aws_vpc_endpoint")).filter((e) => e.vpc_endpoint_type === "Gateway");
  const [bucketId] = Object.entries(resourcesOf(infra, "aws_s3_bucket")).find(([, b]) => String(b.bucket_prefix).includes("models"))!;
  const policy = JSON.parse(String(endpoint.policy)) as { Statement: { Sid: string; Effect: string; Action: string[]; Resource: string[] }[] };
  const reads = policy.Statement.find((s) => s.Sid === "ModelBucket")!;
  expect(reads.Effect).toBe("Allow");
  expect(reads.Action).toEqual(expect.arrayContaining(["s3:GetObject", "s3:ListBucket"]));
  expect(reads.Resource).toEqual([`\${aws_s3_bucket.${bucketId}.arn}`, `\${aws_s3_bucket.${bucketId}.arn}/*`]);
});
