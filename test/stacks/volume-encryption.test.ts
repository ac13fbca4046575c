/** Persistent volumes (the license proxy's lease and usage spool) are encrypted with the cluster's key, which the EBS CSI driver's role may use. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadEnvironmentFile } from "../../app";
import { buildApp } from "../../main";
import { InfraStack } from "../../stacks/infra-stack";
import { policyStatements, resources, Synthesized } from "../support/synth";
import { find, kubeObjects, StackJson } from "../workloads/support";

const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "volume-encryption-"));
afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));
const env = loadEnvironmentFile(path.resolve(__dirname, "../../environments/staging.json"));
const app = buildApp({ environments: [env], outdir });
// The whole app, as deployed: cross-stack references become outputs and remote state only in app.synth().
app.synth();
const infraStack = app.node.findChild("staging-infra") as InfraStack;
const read = (stack: string) => JSON.parse(fs.readFileSync(path.join(outdir, "stacks", stack, "cdk.tf.json"), "utf8")) as unknown;
const workloads = read("staging-workloads") as StackJson;
const infra = read("staging-infra") as Synthesized;

test("the cluster key's policy lets the EBS CSI driver's Pod Identity role encrypt volumes and grant EC2 their use", () => {
  const addon = Object.values(resources(infra, "aws_eks_addon")).find((a) => a.addon_name === "aws-ebs-csi-driver") as { pod_identity_association: { role_arn: string; service_account: string }[] };
  const driverRole = addon.pod_identity_association[0].role_arn;
  expect(driverRole).toMatch(/^\$\{aws_iam_role\.cluster_ebs-csi-role_[^.]+\.arn\}$/);
  const keyPolicy = Object.values(resources(infra, "aws_kms_key_policy")).find((p) => /aws_kms_key\.cluster_key_[0-9A-F]+\./.test(String(p.key_id)))!;
  const statements = policyStatements(infra, keyPolicy.policy);
  expect(statements.EbsCsiDriverEncryptsVolumes).toMatchObject({ Effect: "Allow", Principal: { AWS: driverRole }, Action: expect.arrayContaining(["kms:GenerateDataKey*", "kms:Decrypt"]) });
  expect(statements.EbsCsiDriverGrantsForAttachedVolumes).toMatchObject({
    Effect: "Allow",
    Principal: { AWS: driverRole },
    Action: expect.arrayContaining(["kms:CreateGrant"]),
    Condition: { Bool: { "kms:GrantIsForAWSResource": true } },
  });
  expect(infraStack.cluster.volumeKeyArn).toBe(infraStack.cluster.encryptionKey.arn);
});

test("the workloads stack's StorageClass names that key through a cross-stack reference, and the license proxy claims from it", () => {
  const objects = kubeObjects(workloads);
  const [storageClass] = find(objects, "StorageClass");
  expect(storageClass).toMatchObject({ provisioner: "ebs.csi.aws.com", parameters: { type: "gp3", encrypted: "true" } });
  const kmsKeyId = (storageClass as unknown as { parameters: { kmsKeyId: string } }).parameters.kmsKeyId;
  expect(kmsKeyId).toMatch(/^\$\{data\.terraform_remote_state\.cross-stack-reference-input-staging-infra\.outputs\.cross-stack-output-aws_kms_keycluster_key_[^}]+arn\}$/);
  const outputs = Object.keys((infra as { output?: Record<string, unknown> }).output ?? {});
  expect(outputs.some((o) => /^cross-stack-output-aws_kms_keycluster_key_.+arn$/.test(o))).toBe(true);
  const [proxy] = find(objects, "StatefulSet", "license-proxy");
  expect(proxy.spec.volumeClaimTemplates[0].spec.storageClassName).toBe(storageClass.metadata.name);
});
