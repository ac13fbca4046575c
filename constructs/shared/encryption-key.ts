import { KmsKey } from "@cdktf/provider-aws/lib/kms-key";
import { KmsKeyPolicy } from "@cdktf/provider-aws/lib/kms-key-policy";
import { Lazy, TerraformLocal } from "cdktf";
import { Construct } from "constructs";
import { arnParts, policyDocument, PolicyStatement } from "./arn";

/** Props of EncryptionKey. */
export interface EncryptionKeyProps {
  readonly description: string;
  /** Days a scheduled deletion waits (7-30); default 30, the longest window to notice a mistake. */
  readonly deletionWindowInDays?: number;
  readonly tags?: Record<string, string>;
}

/**
 * A customer-managed KMS key with yearly rotation. The key policy is a separate resource built from
 * the key's own ARN (account, region, partition), so no data source is needed, and constructs add
 * the service grants they need with `addStatement` before synth. Resources that use the key should
 * depend on `policy`, so the grants exist before the service first calls KMS.
 */
export class EncryptionKey extends Construct {
  readonly key: KmsKey;
  readonly policy: KmsKeyPolicy;
  readonly arn: string;
  readonly account: string;
  readonly region: string;
  readonly partition: string;
  private readonly statements: PolicyStatement[] = [];

  constructor(scope: Construct, id: string, props: EncryptionKeyProps) {
    super(scope, id);
    this.key = new KmsKey(this, "key", {
      description: props.description,
      enableKeyRotation: true,
      deletionWindowInDays: props.deletionWindowInDays ?? 30,
      tags: props.tags,
    });
    this.arn = this.key.arn;
    // Locals keep every policy that names the account short, and cheap to resolve at synth.
    const parts = arnParts(this.key.arn);
    this.account = new TerraformLocal(this, "account", parts.account).asString;
    this.region = new TerraformLocal(this, "region", parts.region).asString;
    this.partition = new TerraformLocal(this, "partition", parts.partition).asString;
    this.statements.push({
      // Without this the key would be unmanageable; IAM policies in the account decide who administers it.
      Sid: "AccountAdministers",
      Effect: "Allow",
      Principal: { AWS: `arn:${this.partition}:iam::${this.account}:root` },
      Action: "kms:*",
      Resource: "*",
    });
    this.policy = new KmsKeyPolicy(this, "policy", {
      keyId: this.key.keyId,
      policy: Lazy.stringValue({ produce: () => policyDocument(this.statements) }),
    });
  }

  /** Adds a statement to the key policy (before synth); Sids must be unique. */
  addStatement(statement: PolicyStatement): void {
    if (this.statements.some((s) => s.Sid === statement.Sid)) throw new Error(`EncryptionKey ${this.node.path}: duplicate statement id ${statement.Sid}`);
    this.statements.push(statement);
  }

  /** Lets CloudWatch Logs use the key for one log group only (the encryption context names the group). */
  allowLogGroup(sid: string, logGroupName: string): void {
    this.addStatement({
      Sid: sid,
      Effect: "Allow",
      Principal: { Service: `logs.${this.region}.amazonaws.com` },
      Action: ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
      Resource: "*",
      Condition: {
        ArnEquals: { "kms:EncryptionContext:aws:logs:arn": `arn:${this.partition}:logs:${this.region}:${this.account}:log-group:${logGroupName}` },
      },
    });
  }
}
