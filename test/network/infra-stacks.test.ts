/** The network as the repository's environments deploy it, through the real app and stacks. */
import * as path from "path";
import { Testing } from "cdktf";
import { loadEnvironments } from "../../app";
import { INTERFACE_ENDPOINT_SERVICES } from "../../constructs/network";
import { buildApp } from "../../main";
import { InfraStack } from "../../stacks/infra-stack";
import { stockStack } from "../support/stock-synth";

type Synthesized = { resource: Record<string, Record<string, Record<string, unknown>>>; output: Record<string, unknown> };

const environments = loadEnvironments(path.join(__dirname, "..", "..", "environments"));
const app = buildApp({ environments, outdir: Testing.app().outdir });
// Typed properties from the app; the JSON from the stock synth.
const stacks = Object.fromEntries(
  environments.map((env) => {
    const stack = app.node.findChild(`${env.name}-infra`) as InfraStack;
    return [env.name, { stack, json: JSON.stringify(stockStack(`${env.name}-infra`)) }];
  }),
);
const parsed = (name: string) => JSON.parse(stacks[name].json) as Synthesized;

test("airgapped-infra has no way out of the VPC, and every endpoint a private cluster needs", () => {
  const { json } = stacks.airgapped;
  const { resource } = parsed("airgapped");
  for (const type of ["aws_internet_gateway", "aws_nat_gateway", "aws_egress_only_internet_gateway", "aws_route"]) {
    expect(resource[type]).toBeUndefined();
  }
  expect(json).not.toContain("0.0.0.0/0");
  const services = Object.values(resource.aws_vpc_endpoint).map((e) => e.service_name);
  expect(services.sort()).toEqual(["s3", ...INTERFACE_ENDPOINT_SERVICES].map((s) => `com.amazonaws.eu-central-1.${s}`).sort());
});

test.each([
  ["dev", 1],
  ["staging", 1],
  ["prod", 3],
])("%s-infra has %i NAT gateway(s), as its environment file says", (name, nats) => {
  expect(Object.keys(parsed(name).resource.aws_nat_gateway)).toHaveLength(nats);
});

test.each(environments.map((e) => e.name))("%s-infra exposes the network to later constructs and as outputs", (name) => {
  const { stack } = stacks[name];
  const env = environments.find((e) => e.name === name)!;
  expect(stack.network.mode).toBe(env.mode);
  expect(stack.network.availabilityZones).toEqual(env.availabilityZones);
  expect(stack.network.privateSubnetIds).toHaveLength(env.availabilityZones.length);
  expect(Object.keys(parsed(name).output).sort()).toEqual(expect.arrayContaining(["endpoint_security_group_id", "private_subnet_ids", "vpc_id"]));
  expect(Object.values(parsed(name).resource.aws_cloudwatch_log_group).map((g) => g.retention_in_days)).toContain(env.flowLogRetentionDays);
});
