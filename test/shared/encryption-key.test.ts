/** Every key the library makes: named administrators apart from users, and an account root that can only recover the key. */
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { TerraformStack, Testing } from "cdktf";
import { Construct } from "constructs";
import { enforcePolicy } from "../../constructs/policy";
import { EncryptionKey, KEY_ADMINISTRATION_ACTIONS, KEY_USE_ACTIONS, ROOT_RECOVERY_ACTIONS, setKeyAccess } from "../../constructs/shared";
import { only, policyStatements, synthJson, testStack } from "../support/synth";

const ADMIN = "arn:aws:iam::111122223333:role/key-admin";
const DEPLOY = "arn:aws:iam::111122223333:role/voice-selfhost-deploy";
const USER = "arn:aws:iam::111122223333:role/model-publisher";
const ROOT = expect.stringMatching(/^arn:\$\{local\.\S+_partition_\w+\}:iam::\$\{local\.\S+_account_\w+\}:root$/);

function keyPolicy(stack: TerraformStack) {
  const json = synthJson(stack);
  return policyStatements(json, only(json, "aws_kms_key_policy").policy);
}

test("with administrators named, the root keeps only the recovery actions; administrators manage, users use, and neither does both", () => {
  const { stack } = testStack();
  setKeyAccess(stack, { administrators: [ADMIN, DEPLOY], users: [USER] });
  const key = new EncryptionKey(stack, "key", { description: "test" });
  key.addStatement({ Sid: "ServiceUses", Effect: "Allow", Principal: { Service: "logs.eu-west-1.amazonaws.com" }, Action: "kms:Decrypt", Resource: "*" });
  const policy = keyPolicy(stack);
  expect(Object.keys(policy)).toEqual(["AccountRecoversKeyPolicy", "KeyAdministrators", "KeyAdministratorsLetAwsServicesUseGrants", "KeyUsers", "ServiceUses"]);
  expect(policy.AccountRecoversKeyPolicy).toEqual({ Sid: "AccountRecoversKeyPolicy", Effect: "Allow", Principal: { AWS: ROOT }, Action: ["kms:PutKeyPolicy", "kms:GetKeyPolicy", "kms:DescribeKey"], Resource: "*" });
  expect(policy.KeyAdministrators).toMatchObject({ Principal: { AWS: [ADMIN, DEPLOY] }, Action: [...KEY_ADMINISTRATION_ACTIONS] });
  expect(policy.KeyAdministratorsLetAwsServicesUseGrants).toMatchObject({
    Principal: { AWS: [ADMIN, DEPLOY] },
    Action: ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
    Condition: { Bool: { "kms:GrantIsForAWSResource": true } },
  });
  expect(policy.KeyUsers).toMatchObject({ Principal: { AWS: [USER] }, Action: [...KEY_USE_ACTIONS] });
  // Administration carries no cryptographic operation, and no grant an administrator could make for itself.
  for (const action of ["kms:Decrypt", "kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:*"]) {
    expect(KEY_ADMINISTRATION_ACTIONS).not.toContain(action);
    expect(ROOT_RECOVERY_ACTIONS).not.toContain(action);
  }
  expect(() => key.addStatement({ Sid: "KeyUsers", Effect: "Allow", Principal: "*", Action: "kms:Decrypt", Resource: "*" })).toThrow(/duplicate statement id KeyUsers/);
});

test("no users named: no user statement; the nearest scope's access wins, set before or after the key", () => {
  const { app, stack } = testStack();
  setKeyAccess(app, { administrators: [DEPLOY] });
  const team = new Construct(stack, "team");
  new EncryptionKey(team, "key", { description: "test" });
  setKeyAccess(team, { administrators: [ADMIN] });
  const policy = keyPolicy(stack);
  expect(Object.keys(policy)).toEqual(["AccountRecoversKeyPolicy", "KeyAdministrators", "KeyAdministratorsLetAwsServicesUseGrants"]);
  expect(policy.KeyAdministrators.Principal).toEqual({ AWS: [ADMIN] });
});

test("without key access the key keeps AWS's default statement, and an enforced stack fails synth with VS-KMS-002 until it is named", () => {
  const app = Testing.app();
  const stack = new TerraformStack(app, "keys");
  new AwsProvider(stack, "aws", { region: "eu-west-1" });
  new EncryptionKey(stack, "key", { description: "test" });
  expect(keyPolicy(stack).AccountAdministers).toMatchObject({ Principal: { AWS: ROOT }, Action: "kms:*" });
  enforcePolicy(stack);
  expect(() => app.synth()).toThrow(/VS-KMS-002 keys\/key\/key \(aws_kms_key\.\S+\): statement AccountAdministers lets the account root kms:\*.*Fix: Name keys\.administrators/);

  const named = Testing.app();
  const good = new TerraformStack(named, "keys");
  new AwsProvider(good, "aws", { region: "eu-west-1" });
  new EncryptionKey(good, "key", { description: "test" });
  setKeyAccess(good, { administrators: [DEPLOY], users: [USER] });
  enforcePolicy(good);
  expect(() => named.synth()).not.toThrow();
});

test("bad key access fails where it is set, naming the field", () => {
  const { stack } = testStack();
  expect(() => setKeyAccess(stack, { administrators: [] })).toThrow(/setKeyAccess test: keys: administrators: expected at least one key administrator/);
  expect(() => setKeyAccess(stack, { administrators: ["arn:aws:iam::111122223333:root"] })).toThrow(/keys: administrators\[0\]: expected an IAM role or user ARN/);
  expect(() => setKeyAccess(stack, { administrators: [ADMIN], users: [USER, ADMIN] })).toThrow(
    /keys: users\[1\]: expected a principal apart from the administrators \(separation of duties\); arn:aws:iam::111122223333:role\/key-admin is in both/,
  );
});
