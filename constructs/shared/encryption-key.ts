import { KmsKey } from "@cdktf/provider-aws/lib/kms-key";
import { KmsKeyPolicy } from "@cdktf/provider-aws/lib/kms-key-policy";
import { Lazy, TerraformLocal } from "cdktf";
import { Construct, IConstruct } from "constructs";
import { z } from "zod";
import { arnParts, policyDocument, PolicyStatement } from "./arn";
import { iamPrincipalArnSchema, parseProps } from "../private/validate";

/**
 * Who administers and who uses the keys the library makes (the environment file's `keys`), as
 * terraform-aws-modules/kms separates `key_administrators` from `key_users`. Administrators manage a
 * key and its policy but cannot encrypt or decrypt with it; users can only use it. Name whoever runs
 * Terraform among the administrators: it reads and updates every key on each plan and apply.
 */
export const keyAccessSchema = z
  .object({
    /** Roles or users that manage the keys (rotation, policy, deletion), Terraform's deploy role among them. */
    administrators: z.array(iamPrincipalArnSchema).min(1, "expected at least one key administrator (the role Terraform deploys with)"),
    /** Roles or users that encrypt and decrypt with the keys directly (e.g. whoever uploads models to the SSE-KMS model bucket). */
    users: z.array(iamPrincipalArnSchema).default([]),
  })
  .strict()
  .superRefine((access, ctx) => {
    access.users.forEach((arn, i) => {
      if (access.administrators.includes(arn)) {
        ctx.addIssue({ code: "custom", path: ["users", i], message: `expected a principal apart from the administrators (separation of duties); ${arn} is in both` });
      }
    });
  });

/** Key administrators and users as an environment file or a caller writes them. */
export type KeyAccessInput = z.input<typeof keyAccessSchema>;
/** Key administrators and users with defaults applied. */
export type KeyAccess = z.output<typeof keyAccessSchema>;

/**
 * What the account root keeps when administrators are named: rewriting the key policy, and reading
 * what it rewrites. The root cannot be deleted, so this is the recovery path AWS's key-policy guidance
 * asks for (a key whose only administrators were deleted is unmanageable until AWS Support steps in);
 * an IAM policy must still grant kms:PutKeyPolicy, and the call is logged. No cryptographic operation
 * and no grant creation: IAM policies in the account can no longer decide who decrypts.
 */
export const ROOT_RECOVERY_ACTIONS: readonly string[] = ["kms:PutKeyPolicy", "kms:GetKeyPolicy", "kms:DescribeKey"];

/** Managing a key (AWS's key-administrator statement, spelled out), without any cryptographic operation or kms:CreateGrant. */
export const KEY_ADMINISTRATION_ACTIONS: readonly string[] = [
  "kms:CancelKeyDeletion",
  "kms:CreateAlias",
  "kms:DeleteAlias",
  "kms:DescribeKey",
  "kms:DisableKey",
  "kms:DisableKeyRotation",
  "kms:EnableKey",
  "kms:EnableKeyRotation",
  "kms:GetKeyPolicy",
  "kms:GetKeyRotationStatus",
  "kms:ListAliases",
  "kms:ListGrants",
  "kms:ListKeyPolicies",
  "kms:ListKeyRotations",
  "kms:ListResourceTags",
  "kms:PutKeyPolicy",
  "kms:RevokeGrant",
  "kms:RotateKeyOnDemand",
  "kms:ScheduleKeyDeletion",
  "kms:TagResource",
  "kms:UntagResource",
  "kms:UpdateAlias",
  "kms:UpdateKeyDescription",
];

/** Using a symmetric key (AWS's key-user statement). */
export const KEY_USE_ACTIONS: readonly string[] = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"];

/**
 * What EBS does with a customer-managed key as the principal that launches an instance with a volume
 * encrypted by it (Amazon EBS User Guide, "Requirements for Amazon EBS encryption"), less kms:CreateGrant,
 * which administrators already have for AWS resources.
 */
export const EBS_LAUNCH_ACTIONS: readonly string[] = ["kms:GenerateDataKeyWithoutPlaintext", "kms:Decrypt", "kms:ReEncrypt*", "kms:DescribeKey"];

/** Grant operations; a key policy allows them only for grants AWS services create for a resource (kms:GrantIsForAWSResource). */
export const GRANT_ACTIONS: readonly string[] = ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"];

/** Statement ids the key writes itself from its access; addStatement refuses them. */
const ACCESS_SIDS = ["AccountAdministers", "AccountRecoversKeyPolicy", "KeyAdministrators", "KeyAdministratorsLetAwsServicesUseGrants", "KeyUsers", "KeyAdministratorsLaunchVolumesThroughEc2"];

const accessByScope = new WeakMap<IConstruct, KeyAccess>();

/**
 * Names the administrators and users of every EncryptionKey under `scope` (a stack, or the app).
 * Read at synth, so it may be called before or after the keys are created; the nearest scope wins.
 */
export function setKeyAccess(scope: IConstruct, access: KeyAccessInput): void {
  accessByScope.set(scope, parseProps(keyAccessSchema, access, `setKeyAccess ${scope.node.path || "(app)"}: keys:`));
}

/** The key access that applies to `construct`: set on it or on its nearest scope above. */
export function keyAccessOf(construct: IConstruct): KeyAccess | undefined {
  return [...construct.node.scopes].reverse().map((scope) => accessByScope.get(scope)).find((access) => access !== undefined);
}

/** Props of EncryptionKey. */
export interface EncryptionKeyProps {
  readonly description: string;
  /** Days a scheduled deletion waits (7-30); default 30, the longest window to notice a mistake. */
  readonly deletionWindowInDays?: number;
  readonly tags?: Record<string, string>;
}

/**
 * A customer-managed KMS key with yearly rotation: the one way the library makes a key. The key policy
 * is a separate resource built from the key's own ARN (account, region, partition), so no data source
 * is needed, and constructs add the service grants they need with `addStatement` before synth.
 * Resources that use the key should depend on `policy`, so the grants exist before the service first
 * calls KMS.
 *
 * Who administers and who uses the key comes from `setKeyAccess` on a scope above it. With it, the
 * account root keeps only ROOT_RECOVERY_ACTIONS and the named administrators and users get separate
 * statements. Without it, the policy falls back to AWS's default statement (the root may do kms:*, so
 * IAM policies decide), which policy rule VS-KMS-002 reports.
 */
export class EncryptionKey extends Construct {
  readonly key: KmsKey;
  readonly policy: KmsKeyPolicy;
  readonly arn: string;
  readonly account: string;
  readonly region: string;
  readonly partition: string;
  private readonly statements: PolicyStatement[] = [];
  private administratorsLaunchVolumes = false;

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
    this.policy = new KmsKeyPolicy(this, "policy", {
      keyId: this.key.keyId,
      policy: Lazy.stringValue({ produce: () => policyDocument([...this.accessStatements(keyAccessOf(this)), ...this.statements]) }),
    });
  }

  /** Adds a statement to the key policy (before synth); Sids must be unique. */
  addStatement(statement: PolicyStatement): void {
    if (ACCESS_SIDS.includes(statement.Sid) || this.statements.some((s) => s.Sid === statement.Sid)) {
      throw new Error(`EncryptionKey ${this.node.path}: duplicate statement id ${statement.Sid}`);
    }
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

  /**
   * Lets IAM roles whose names start with `roleNamePrefix`, in the key's account, use the key through one
   * AWS service only (`kms:ViaService`), for a role that does not exist yet when the key is created: KMS
   * refuses a key policy that names a principal that does not exist, so the role is matched by
   * `aws:PrincipalArn` instead, with the account as principal. The account principal also means an IAM
   * policy of the role must allow the same: both the key policy and IAM decide. Grant actions
   * (`kms:CreateGrant`, `kms:ListGrants`, `kms:RevokeGrant`) are allowed only for AWS resources
   * (`kms:GrantIsForAWSResource`). Policy rule VS-KMS-002 accepts exactly this shape from the account root.
   */
  allowRolesThroughService(options: { sid: string; roleNamePrefix: string; service: string; actions: readonly string[] }): void {
    const { sid, roleNamePrefix, service, actions } = options;
    if (!/^[\w+=,.@-]+$/.test(roleNamePrefix)) throw new Error(`EncryptionKey ${this.node.path}: roleNamePrefix: expected an IAM role name prefix (no wildcard, no path), found "${roleNamePrefix}"`);
    const grantActions = actions.filter((a) => GRANT_ACTIONS.includes(a));
    const useActions = actions.filter((a) => !GRANT_ACTIONS.includes(a));
    const condition = {
      ArnLike: { "aws:PrincipalArn": `arn:${this.partition}:iam::${this.account}:role/${roleNamePrefix}*` },
      StringEquals: { "kms:ViaService": `${service}.${this.region}.amazonaws.com`, "kms:CallerAccount": this.account },
    };
    const account = { AWS: `arn:${this.partition}:iam::${this.account}:root` };
    if (useActions.length > 0) this.addStatement({ Sid: sid, Effect: "Allow", Principal: account, Action: useActions, Resource: "*", Condition: condition });
    if (grantActions.length > 0) {
      this.addStatement({
        Sid: `${sid}Grants`,
        Effect: "Allow",
        Principal: account,
        Action: grantActions,
        Resource: "*",
        Condition: { ...condition, Bool: { "kms:GrantIsForAWSResource": true } },
      });
    }
  }

  /**
   * Lets the key administrators use the key through EC2 only, as EBS does when one of them (Terraform's
   * deploy role) launches an instance whose volume the key encrypts: RunInstances makes EBS create the
   * data key as the caller. That makes the administrators users of this key (VS-KMS-002 says so), so call
   * it only on a key of its own for such volumes, never on a key that protects data. Without named
   * administrators the account root's kms:* already covers it.
   */
  letAdministratorsLaunchVolumes(): void {
    this.administratorsLaunchVolumes = true;
  }

  /** The statements that say who administers and who uses the key. */
  private accessStatements(access: KeyAccess | undefined): PolicyStatement[] {
    const root = { AWS: `arn:${this.partition}:iam::${this.account}:root` };
    if (!access) {
      // AWS's default key policy statement: the key stays manageable, and IAM policies decide who may use it.
      return [{ Sid: "AccountAdministers", Effect: "Allow", Principal: root, Action: "kms:*", Resource: "*" }];
    }
    const statements: PolicyStatement[] = [
      { Sid: "AccountRecoversKeyPolicy", Effect: "Allow", Principal: root, Action: [...ROOT_RECOVERY_ACTIONS], Resource: "*" },
      { Sid: "KeyAdministrators", Effect: "Allow", Principal: { AWS: access.administrators }, Action: [...KEY_ADMINISTRATION_ACTIONS], Resource: "*" },
      {
        // Creating a cluster, a repository or a volume with the key makes EKS, ECR or EBS create a grant for
        // that resource on the caller's behalf; GrantIsForAWSResource keeps administrators from granting themselves use.
        Sid: "KeyAdministratorsLetAwsServicesUseGrants",
        Effect: "Allow",
        Principal: { AWS: access.administrators },
        Action: [...GRANT_ACTIONS],
        Resource: "*",
        Condition: { Bool: { "kms:GrantIsForAWSResource": true } },
      },
    ];
    if (access.users.length > 0) {
      statements.push({ Sid: "KeyUsers", Effect: "Allow", Principal: { AWS: access.users }, Action: [...KEY_USE_ACTIONS], Resource: "*" });
    }
    if (this.administratorsLaunchVolumes) {
      statements.push({
        Sid: "KeyAdministratorsLaunchVolumesThroughEc2",
        Effect: "Allow",
        Principal: { AWS: access.administrators },
        Action: [...EBS_LAUNCH_ACTIONS],
        Resource: "*",
        Condition: { StringEquals: { "kms:ViaService": `ec2.${this.region}.amazonaws.com`, "kms:CallerAccount": this.account } },
      });
    }
    return statements;
  }
}
