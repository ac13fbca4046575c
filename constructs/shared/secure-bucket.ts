import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketLifecycleConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3BucketVersioningA } from "@cdktf/provider-aws/lib/s3-bucket-versioning";
import { Lazy } from "cdktf";
import { Construct } from "constructs";
import { policyDocument, PolicyStatement } from "./arn";
import { EncryptionKey } from "./encryption-key";

/** Props of SecureBucket. */
export interface SecureBucketProps {
  /** Bucket name prefix (S3 adds a unique suffix, so names never collide across accounts); at most 37 characters. */
  readonly namePrefix: string;
  /** Every object is encrypted with this customer-managed key (S3 Bucket Keys keep KMS calls cheap). */
  readonly encryptionKey: EncryptionKey;
  /** Days before current objects expire; default never (model weights are kept until replaced). */
  readonly expireAfterDays?: number;
  /** Days a replaced or deleted version is kept for recovery; default 90. */
  readonly noncurrentVersionDays?: number;
  /** Keep the bucket when the stack is destroyed while objects remain; default true. */
  readonly retainOnDestroy?: boolean;
  readonly tags?: Record<string, string>;
}

/**
 * The one way this library makes a bucket: public access blocked, ACLs off (owner enforced),
 * versioning, KMS encryption with a customer-managed key, a lifecycle, and a policy that refuses
 * any request without TLS. Constructs add their own statements with `addStatement`.
 */
export class SecureBucket extends Construct {
  readonly bucket: S3Bucket;
  readonly policy: S3BucketPolicy;
  readonly bucketName: string;
  readonly arn: string;
  private readonly statements: PolicyStatement[];

  constructor(scope: Construct, id: string, props: SecureBucketProps) {
    super(scope, id);
    if (props.namePrefix.length > 37) throw new Error(`SecureBucket ${this.node.path}: namePrefix must be at most 37 characters, found "${props.namePrefix}"`);
    this.bucket = new S3Bucket(this, "bucket", {
      bucketPrefix: props.namePrefix,
      forceDestroy: !(props.retainOnDestroy ?? true),
      tags: props.tags,
    });
    this.bucketName = this.bucket.bucket;
    this.arn = this.bucket.arn;
    const publicAccess = new S3BucketPublicAccessBlock(this, "public-access", {
      bucket: this.bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketOwnershipControls(this, "ownership", { bucket: this.bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } });
    new S3BucketVersioningA(this, "versioning", { bucket: this.bucket.id, versioningConfiguration: { status: "Enabled" } });
    new S3BucketServerSideEncryptionConfigurationA(this, "encryption", {
      bucket: this.bucket.id,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: props.encryptionKey.arn }, bucketKeyEnabled: true }],
      dependsOn: [props.encryptionKey.policy],
    });
    new S3BucketLifecycleConfiguration(this, "lifecycle", {
      bucket: this.bucket.id,
      rule: [
        {
          id: "retention",
          status: "Enabled",
          filter: [{ prefix: "" }],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: 7 }],
          noncurrentVersionExpiration: [{ noncurrentDays: props.noncurrentVersionDays ?? 90 }],
          expiration: props.expireAfterDays === undefined ? undefined : [{ days: props.expireAfterDays }],
        },
      ],
    });
    this.statements = [
      {
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: [this.bucket.arn, `${this.bucket.arn}/*`],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
    ];
    this.policy = new S3BucketPolicy(this, "policy", {
      bucket: this.bucket.id,
      policy: Lazy.stringValue({ produce: () => policyDocument(this.statements) }),
      // S3 rejects a policy write racing the public access block on a new bucket.
      dependsOn: [publicAccess],
    });
  }

  /** Adds a statement to the bucket policy (before synth); Sids must be unique. */
  addStatement(statement: PolicyStatement): void {
    if (this.statements.some((s) => s.Sid === statement.Sid)) throw new Error(`SecureBucket ${this.node.path}: duplicate statement id ${statement.Sid}`);
    this.statements.push(statement);
  }
}
