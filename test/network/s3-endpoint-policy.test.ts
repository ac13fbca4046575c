/** The S3 gateway endpoint: an allow-list in air-gapped mode (ECR's image layers, the model bucket), AWS's default policy when connected. */
import * as path from "path";
import { TerraformStack, Testing } from "cdktf";
import { loadEnvironmentFile } from "../../app";
import { PrivateNetwork } from "../../constructs/network";
import { buildApp } from "../../main";
import { policyStatements, synthJson, testStack } from "../support/synth";

function gatewayPolicy(mode: "connected" | "airgapped", reads?: (network: PrivateNetwork) => void) {
  const { stack } = testStack();
  const network = new PrivateNetwork(stack, "network", { cidr: "10.50.0.0/16", azs: ["eu-west-1a", "eu-west-1b"], mode });
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

test("connected: the endpoint keeps AWS's default policy (it carries all of the VPC's S3 traffic), whatever is allowed", () => {
  expect(gatewayPolicy("connected", (network) => network.allowS3Reads("ModelBucket", ["arn:aws:s3:::models-bucket"])).policy).toBeUndefined();
});

test("the air-gapped infra stack lets its model bucket through the endpoint, and nothing beyond it and ECR's layers", () => {
  const env = loadEnvironmentFile(path.resolve(__dirname, "../../environments/airgapped.json"));
  const app = buildApp({ environments: [env], outdir: Testing.app().outdir });
  const json = synthJson(app.node.findChild("airgapped-infra") as TerraformStack);
  const endpoint = Object.values(json.resource.aws_vpc_endpoint).find((e) => e.vpc_endpoint_type === "Gateway")!;
  const statements = policyStatements(json, endpoint.policy);
  expect(Object.keys(statements)).toEqual(["EcrImageLayers", "ModelBucket"]);
  expect(statements.ModelBucket.Resource).toEqual([expect.stringMatching(/^\$\{aws_s3_bucket\.models_bucket_[^.]+\.arn\}$/), expect.stringMatching(/\.arn\}\/\*$/)]);
});
