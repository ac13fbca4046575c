/**
 * Persistent volumes (the license proxy's lease and usage spool, retained) are encrypted with a key of
 * `<env>-data`, a stack of its own: destroying `<env>-infra` (the cluster with it) leaves the key, and
 * the retained volumes readable. The EBS CSI driver's role may use it: the key's policy admits the role by
 * its name prefix through EC2, and the role's IAM policy grants it on the key's tag; both must allow.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadEnvironmentFile } from "../../app";
import { checkStack } from "../../constructs/policy";
import { buildApp } from "../../main";
import { DataStack } from "../../stacks/data-stack";
import { InfraStack } from "../../stacks/infra-stack";
import { stockStack } from "../support/stock-synth";
import { only, resources, Synthesized } from "../support/synth";
import { find, kubeObjects, StackJson } from "../workloads/support";

const env = loadEnvironmentFile(path.resolve(__dirname, "../../environments/staging.json"));
// The stacks' typed properties from the app; their JSON from the stock synth (the whole app, as deployed: cross-stack
// references become outputs and remote state only in a whole-app synth).
const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "volume-encryption-"));
afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));
const app = buildApp({ environments: [env], outdir });
const infraStack = app.node.findChild("staging-infra") as InfraStack;
const dataStack = app.node.findChild("staging-data") as DataStack;
const read = (stack: string) => stockStack(stack);
const workloads = read("staging-workloads") as StackJson;
const infra = read("staging-infra") as Synthesized;
const data = read("staging-data") as Synthesized;

test("the volume key lives in staging-data and refuses a destroy while deletion protection is on", () => {
  const key = only(data, "aws_kms_key") as Record<string, any>;
  expect(key).toMatchObject({ enable_key_rotation: true, deletion_window_in_days: 30, lifecycle: { prevent_destroy: env.deletionProtection } });
  // Nothing of the cluster's in the data stack: it can be applied first and outlives a destroy of staging-infra.
  expect(Object.keys(data.resource).sort()).toEqual(["aws_kms_key", "aws_kms_key_policy"]);
  expect(infraStack.cluster.volumeKeyArn).toBe(dataStack.volumeKey.arn);
});

test("the key's own policy admits staging-infra's EBS CSI driver role, by the name prefix that stack gives it, through EC2 only", () => {
  interface Statement {
    Sid: string;
    Principal: { AWS: string | string[] };
    Action: string[];
    Condition?: Record<string, Record<string, unknown>>;
  }
  const policy = JSON.parse(String(only(data, "aws_kms_key_policy").policy)) as { Statement: Statement[] };
  // Named administrators: the account root keeps recovery only, so IAM on the tag alone would grant the driver nothing.
  const root = policy.Statement.filter((s) => String(s.Principal.AWS).endsWith(":root"));
  expect(root.find((s) => s.Sid === "AccountRecoversKeyPolicy")!.Action).toEqual(["kms:PutKeyPolicy", "kms:GetKeyPolicy", "kms:DescribeKey"]);
  const driver = root.filter((s) => s.Sid !== "AccountRecoversKeyPolicy");
  expect(driver.map((s) => s.Sid)).toEqual(["VolumeRoles0UseKeyThroughEc2", "VolumeRoles0UseKeyThroughEc2Grants"]);
  // The prefix is the one the infra stack's role is created with (staging-data cannot read that stack's state, and is applied first).
  const role = Object.values(resources(infra, "aws_iam_role")).find((r) => String(r.name_prefix).endsWith("-ebs-csi-")) as { name_prefix: string };
  for (const s of driver) {
    expect(s.Condition!.ArnLike).toEqual({ "aws:PrincipalArn": expect.stringMatching(new RegExp(`:role/${role.name_prefix}\\*$`)) });
    expect(s.Condition!.StringEquals).toEqual({ "kms:ViaService": expect.stringMatching(/^ec2\..+\.amazonaws\.com$/), "kms:CallerAccount": expect.any(String) });
  }
  expect(driver[0].Action).toEqual(["kms:GenerateDataKeyWithoutPlaintext", "kms:Decrypt", "kms:ReEncrypt*", "kms:DescribeKey"]);
  expect(driver[1]).toMatchObject({ Action: ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], Condition: { Bool: { "kms:GrantIsForAWSResource": true } } });
  // VS-KMS-002 accepts that shape from the account root, and VS-KMS-003 finds the driver admitted.
  const report = checkStack(dataStack);
  expect(report.violations).toEqual([]);
  expect(report.rules.filter((r) => ["VS-KMS-002", "VS-KMS-003"].includes(r.id)).map((r) => r.status)).toEqual(["pass", "pass"]);
});

test("the EBS CSI driver's Pod Identity role may encrypt with keys tagged for staging and grant EC2 their use, through IAM; staging-infra reads no other stack's state", () => {
  const addon = Object.values(resources(infra, "aws_eks_addon")).find((a) => a.addon_name === "aws-ebs-csi-driver") as { pod_identity_association: { role_arn: string }[] };
  const driverRole = addon.pod_identity_association[0].role_arn;
  const policy = Object.values(resources(infra, "aws_iam_role_policy")).find((p) => p.name === "retained-volume-key") as { role: string; policy: string };
  expect(driverRole).toContain(policy.role.replace(/\.name\}$/, ""));
  const statements = JSON.parse(policy.policy) as { Statement: { Action: string[]; Resource: string; Condition: Record<string, Record<string, unknown>> }[] };
  for (const statement of statements.Statement) expect(statement.Condition.StringEquals).toEqual({ "aws:ResourceTag/voice-selfhost:retained-data": "staging" });
  expect(statements.Statement.flatMap((s) => s.Action)).toEqual(expect.arrayContaining(["kms:GenerateDataKey*", "kms:Decrypt", "kms:CreateGrant"]));
  expect(statements.Statement.find((s) => s.Action.includes("kms:CreateGrant"))!.Condition.Bool).toEqual({ "kms:GrantIsForAWSResource": true });
  expect((only(data, "aws_kms_key") as { tags: Record<string, string> }).tags).toMatchObject({ "voice-selfhost:retained-data": "staging" });
  expect((infra as { data?: unknown }).data).toBeUndefined();
});

test("the workloads stack's StorageClass names that key, read from staging-data's state; the license proxy claims from it", () => {
  const objects = kubeObjects(workloads);
  const [storageClass] = find(objects, "StorageClass");
  expect(storageClass).toMatchObject({ provisioner: "ebs.csi.aws.com", parameters: { type: "gp3", encrypted: "true" }, reclaimPolicy: "Retain" });
  const kmsKeyId = (storageClass as unknown as { parameters: { kmsKeyId: string } }).parameters.kmsKeyId;
  expect(kmsKeyId).toMatch(/^\$\{data\.terraform_remote_state\.cross-stack-reference-input-staging-data\.outputs\.cross-stack-output-aws_kms_keyvolume-key_[^}]+arn\}$/);
  const [proxy] = find(objects, "StatefulSet", "license-proxy");
  expect(proxy.spec.volumeClaimTemplates[0].spec.storageClassName).toBe(storageClass.metadata.name);
});
