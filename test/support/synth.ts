/** Test helpers: a fake network (constructs take NetworkRefs, not a PrivateNetwork) and synth-to-JSON. */
import { App, TerraformStack, Testing } from "cdktf";
import { NetworkRefs } from "../../constructs/network/types";

/** A network described by literals; `s3Reads` records what constructs register with allowS3Reads. */
export type FakeNetwork = NetworkRefs & { readonly s3Reads: { sid: string; bucketArns: string[] }[] };

export function fakeNetwork(mode: NetworkRefs["mode"] = "connected", overrides: Partial<NetworkRefs> = {}): FakeNetwork {
  const s3Reads: FakeNetwork["s3Reads"] = [];
  return {
    vpcId: "vpc-0123456789abcdef0",
    vpcCidr: "10.40.0.0/16",
    privateSubnetIds: ["subnet-a", "subnet-b", "subnet-c"],
    availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
    endpointSecurityGroupId: "sg-endpoints",
    s3GatewayEndpointId: "vpce-s3gateway",
    interfaceEndpointIds: { "ecr.api": "vpce-ecrapi", "ecr.dkr": "vpce-ecrdkr" },
    mode,
    s3Reads,
    allowS3Reads: (sid, bucketArns) => s3Reads.push({ sid, bucketArns }),
    ...overrides,
  };
}

export function testStack(): { app: App; stack: TerraformStack } {
  const app = Testing.app();
  return { app, stack: new TerraformStack(app, "test") };
}

export type Synthesized = {
  resource: Record<string, Record<string, Record<string, unknown>>>;
  output?: Record<string, unknown>;
  locals?: Record<string, unknown>;
};

export function synthJson(stack: TerraformStack): Synthesized {
  return JSON.parse(Testing.synth(stack)) as Synthesized;
}

/** Every resource of one type, by logical id (empty when none). */
export function resources(json: Synthesized, type: string): Record<string, Record<string, unknown>> {
  return json.resource[type] ?? {};
}

export function only(json: Synthesized, type: string): Record<string, unknown> {
  const all = Object.values(resources(json, type));
  if (all.length !== 1) throw new Error(`expected exactly one ${type}, found ${all.length}`);
  return all[0];
}

/** A policy's JSON text, following one `${local.x}` reference. */
export function policyText(json: Synthesized, value: unknown): string {
  const text = String(value);
  const local = /^\$\{local\.([^}]+)\}$/.exec(text);
  return local ? String(json.locals?.[local[1]]) : text;
}

export interface Statement {
  Sid?: string;
  Effect: string;
  Principal?: unknown;
  Action: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

/** A policy's statements by Sid (the policy is JSON text with `${...}` references left as they are). */
export function policyStatements(json: Synthesized, value: unknown): Record<string, Statement> {
  const document = JSON.parse(policyText(json, value)) as { Version: string; Statement: Statement[] };
  expect(document.Version).toBe("2012-10-17");
  return Object.fromEntries(document.Statement.map((s, i) => [s.Sid ?? `#${i}`, s]));
}
