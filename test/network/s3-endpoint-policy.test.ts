/**
 * The S3 gateway endpoint: an allow-list in air-gapped mode (ECR's image layers, the model bucket); when
 * connected, also our principals acting on our own buckets (the organisation named, or the account).
 */
import { PrivateNetwork } from "../../constructs/network";
import { stockStack } from "../support/stock-synth";
import { policyStatements, Synthesized, synthJson, testStack } from "../support/synth";

function gatewayPolicy(mode: "connected" | "airgapped", reads?: (network: PrivateNetwork) => void, organizationId?: string) {
  const { stack } = testStack();
  const network = new PrivateNetwork(stack, "network", { cidr: "10.50.0.0/16", azs: ["eu-west-1a", "eu-west-1b"], mode, organizationId });
  reads?.(network);
  const json = synthJson(stack);
  const endpoint = Object.values(json.resource.aws_vpc_endpoint).find((e) => e.vpc_endpoint_type === "Gateway")!;
  return { json, policy: endpoint.policy };
}

test("air-gapped: only ECR's image layers of the region, read-only, until a bucket is allowed", () => {
  const { json, policy } = gatewayPolicy("airgapped");
  const statements = policyStatements(json, policy);
  expect(Object.keys(statements)).toEqual(["EcrImageLayers"]);
  expect(statements.EcrImageLayers).toMatchObject({ Effect: "Allow", Principal: "*", Action: "s3:GetObject" });
  expect(statements.EcrImageLayers.Resource).toMatch(/^arn:\$\{local\.network_s3-partition_[^}]+\}:s3:::prod-eu-west-1-starport-layer-bucket\/\*$/);
});

test("air-gapped: allowS3Reads adds read access to the named buckets and their objects, and refuses a duplicate id", () => {
  const bucket = "arn:aws:s3:::models-bucket";
  const { json, policy } = gatewayPolicy("airgapped", (network) => {
    network.allowS3Reads("ModelBucket", [bucket]);
    expect(() => network.allowS3Reads("ModelBucket", [bucket])).toThrow(/duplicate statement id ModelBucket/);
  });
  expect(policyStatements(json, policy).ModelBucket).toEqual({
    Sid: "ModelBucket",
    Effect: "Allow",
    Principal: "*",
    Action: ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"],
    Resource: [bucket, `${bucket}/*`],
  });
});

test("connected: ECR's layers, the buckets allowed, and our own principals on our own buckets; a bucket of another account is refused", () => {
  const bucket = "arn:aws:s3:::models-bucket";
  const { json, policy } = gatewayPolicy("connected", (network) => network.allowS3Reads("ModelBucket", [bucket]));
  const statements = policyStatements(json, policy);
  expect(Object.keys(statements)).toEqual(["EcrImageLayers", "OwnPrincipalsToOwnResources", "ModelBucket"]);
  // No organisation named: the network's own account, read from its VPC's ARN.
  expect(statements.OwnPrincipalsToOwnResources).toEqual({
    Sid: "OwnPrincipalsToOwnResources",
    Effect: "Allow",
    Principal: "*",
    Action: "*",
    Resource: "*",
    Condition: { StringEquals: { "aws:PrincipalAccount": expect.stringMatching(/^\$\{local\.network_account_\w+\}$/), "aws:ResourceAccount": expect.stringMatching(/^\$\{local\.network_account_\w+\}$/) } },
  });
  const account = Object.entries(json.locals ?? {}).find(([name]) => name.startsWith("network_account_"))![1];
  expect(account).toMatch(/^\$\{element\(split\(":", aws_vpc\.network_vpc_\w+\.arn\), 4\)\}$/);
});

test("connected with an organisation: the perimeter is the organisation's principals and resources", () => {
  const { json, policy } = gatewayPolicy("connected", undefined, "o-a1b2c3d4e5");
  expect(policyStatements(json, policy).OwnPrincipalsToOwnResources.Condition).toEqual({ StringEquals: { "aws:PrincipalOrgID": "o-a1b2c3d4e5", "aws:ResourceOrgID": "o-a1b2c3d4e5" } });
  expect(() => gatewayPolicy("connected", undefined, "my-org")).toThrow(/PrivateNetwork test\/network: organizationId: expected an AWS Organizations id like o-a1b2c3d4e5, found "my-org"/);
});

test("the air-gapped infra stack lets nothing through the endpoint but ECR's layers: the model bucket is read by no workload", () => {
  const json = stockStack<Synthesized>("airgapped-infra");
  const endpoint = Object.values(json.resource.aws_vpc_endpoint).find((e) => e.vpc_endpoint_type === "Gateway")!;
  expect(Object.keys(policyStatements(json, endpoint.policy))).toEqual(["EcrImageLayers"]);
});
