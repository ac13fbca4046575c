import { ModelBucket } from "../../constructs/storage";
import { only, policyStatements, synthJson, testStack } from "../support/synth";

function synthBucket() {
  const { stack } = testStack();
  new ModelBucket(stack, "models", { readerRoleArn: "arn:aws:iam::111122223333:role/inference" });
  return synthJson(stack);
}

describe("ModelBucket with only the required props", () => {
  const json = synthBucket();
  const policy = policyStatements(json, only(json, "aws_s3_bucket_policy").policy);

  test("versioned, KMS-encrypted with its own rotating key, public access blocked, ACLs off", () => {
    expect(only(json, "aws_s3_bucket")).toMatchObject({ bucket_prefix: "voice-models-", force_destroy: false });
    expect(only(json, "aws_s3_bucket_versioning").versioning_configuration).toEqual({ status: "Enabled" });
    expect(only(json, "aws_s3_bucket_server_side_encryption_configuration").rule).toEqual([
      { apply_server_side_encryption_by_default: { sse_algorithm: "aws:kms", kms_master_key_id: expect.stringContaining("aws_kms_key.") }, bucket_key_enabled: true },
    ]);
    expect(only(json, "aws_kms_key")).toMatchObject({ enable_key_rotation: true });
    expect(only(json, "aws_s3_bucket_public_access_block")).toMatchObject({
      block_public_acls: true,
      block_public_policy: true,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    });
    expect(only(json, "aws_s3_bucket_ownership_controls").rule).toEqual({ object_ownership: "BucketOwnerEnforced" });
    expect(only(json, "aws_s3_bucket_lifecycle_configuration").rule).toEqual([expect.objectContaining({ noncurrent_version_expiration: [{ noncurrent_days: 90 }] })]);
  });

  test("TLS only, and readable by the granted reader alone (the role that builds model images)", () => {
    expect(policy.DenyInsecureTransport).toMatchObject({ Effect: "Deny", Action: "s3:*", Condition: { Bool: { "aws:SecureTransport": "false" } } });
    expect(policy.ModelBuildersRead).toMatchObject({ Effect: "Allow", Principal: { AWS: "arn:aws:iam::111122223333:role/inference" } });
    expect(policy.DenyReadsByOthers).toMatchObject({ Effect: "Deny", Condition: { ArnNotEquals: { "aws:PrincipalArn": "arn:aws:iam::111122223333:role/inference" } } });
    expect(policy.DenyReadsOutsideVpcEndpoint).toBeUndefined();
    expect(policyStatements(json, only(json, "aws_kms_key_policy").policy).ModelBuildersDecryptThroughS3.Condition).toEqual({
      StringEquals: { "kms:ViaService": expect.stringMatching(/^s3\.\$\{local\.[^}]+\}\.amazonaws\.com$/) },
    });
  });

  test("registers nothing with the network's S3 endpoint: nothing in the cluster reads the bucket", () => {
    expect(policy.DenyReadsOutsideVpcEndpoint).toBeUndefined();
  });
});

describe("grantRead", () => {
  test("every reader granted is the only set of principals that may read, through S3 only", () => {
    const { stack } = testStack();
    const bucket = new ModelBucket(stack, "models");
    bucket.grantRead("arn:aws:iam::111122223333:role/inference");
    bucket.grantRead({ arn: "arn:aws:iam::111122223333:role/batch" });
    bucket.grantRead("arn:aws:iam::111122223333:role/inference");
    const json = synthJson(stack);
    const policy = policyStatements(json, only(json, "aws_s3_bucket_policy").policy);
    const readers = ["arn:aws:iam::111122223333:role/inference", "arn:aws:iam::111122223333:role/batch"];
    expect(policy.ModelBuildersRead.Principal).toEqual({ AWS: readers });
    expect(policy.DenyReadsByOthers.Condition).toEqual({ ArnNotEquals: { "aws:PrincipalArn": readers } });
    expect(policyStatements(json, only(json, "aws_kms_key_policy").policy).ModelBuildersDecryptThroughS3.Principal).toEqual({ AWS: readers });
  });

  test("with no reader, reads are left to the account's IAM policies: no deny, no reader statement", () => {
    const { stack } = testStack();
    new ModelBucket(stack, "models");
    const json = synthJson(stack);
    const policy = policyStatements(json, only(json, "aws_s3_bucket_policy").policy);
    expect(Object.keys(policy).sort()).toEqual(["DenyInsecureTransport"]);
  });
});
