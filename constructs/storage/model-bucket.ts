import { Construct } from "constructs";
import { EncryptionKey } from "../shared/encryption-key";
import { SecureBucket } from "../shared/secure-bucket";

/** Props of ModelBucket. */
export interface ModelBucketProps {
  /**
   * A role that builds model images (ModelBucket.grantRead).
   * @deprecated Call `bucket.grantRead(role)`; this prop does the same and goes in the next major version.
   */
  readonly readerRoleArn?: string;
  /** Bucket name prefix (a unique suffix is added); default `voice-models-`. */
  readonly namePrefix?: string;
  /** Days a replaced model version is kept for rollback; default 90. */
  readonly noncurrentVersionDays?: number;
  readonly tags?: Record<string, string>;
}

/**
 * The archive of imported models: each staged model (its files and `model-manifest.json`, as model-import
 * writes them) is uploaded here, and the model images the pods run are built from it. Versioned (a replaced
 * model is kept `noncurrentVersionDays` for rollback and audit), encrypted with a key of its own, TLS only,
 * public access blocked. Nothing in the cluster reads it: the inference pods get their models from model
 * images the kubelet pulls, and have no path to S3. Reading objects is denied to every principal but the
 * readers given `grantRead` (whoever builds the model images, e.g. the registry's mirror role); with no
 * reader, reads and uploads are left to the account's IAM policies. Uploads need the key's use
 * (`keys.users`).
 */
export class ModelBucket extends Construct {
  readonly bucket: SecureBucket;
  readonly bucketName: string;
  readonly bucketArn: string;
  readonly encryptionKey: EncryptionKey;
  private readonly readers: string[] = [];

  constructor(scope: Construct, id: string, props: ModelBucketProps = {}) {
    super(scope, id);
    this.encryptionKey = new EncryptionKey(this, "key", { description: "Model weights bucket", tags: props.tags });
    const key = this.encryptionKey;
    this.bucket = new SecureBucket(this, "bucket", {
      namePrefix: props.namePrefix ?? "voice-models-",
      encryptionKey: key,
      noncurrentVersionDays: props.noncurrentVersionDays,
      tags: props.tags,
    });
    this.bucketName = this.bucket.bucketName;
    this.bucketArn = this.bucket.arn;
    if (props.readerRoleArn) this.grantRead(props.readerRoleArn);
  }

  /**
   * Lets `role` (an IamRole or its ARN) list and read the models, and decrypt them through S3; every other
   * principal's reads are then denied. Usually the role that builds the model images.
   */
  grantRead(role: { readonly arn: string } | string): void {
    const arn = typeof role === "string" ? role : role.arn;
    if (this.readers.includes(arn)) return;
    this.readers.push(arn);
    if (this.readers.length > 1) return;
    // Written once, at the first reader, and read at synth, after every grantRead: one reader as a string, several as a list.
    const readers = this.readers;
    const principal = {
      get AWS(): string | string[] {
        return readers.length === 1 ? readers[0] : readers;
      },
    };
    const objects = `${this.bucket.arn}/*`;
    this.bucket.addStatement({ Sid: "ModelBuildersRead", Effect: "Allow", Principal: principal, Action: ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"], Resource: [this.bucket.arn, objects] });
    this.bucket.addStatement({
      Sid: "DenyReadsByOthers",
      Effect: "Deny",
      Principal: "*",
      Action: ["s3:GetObject", "s3:GetObjectVersion"],
      Resource: objects,
      Condition: {
        ArnNotEquals: {
          get "aws:PrincipalArn"(): string | string[] {
            return principal.AWS;
          },
        },
      },
    });
    // Reading an SSE-KMS object needs kms:Decrypt; granted here so the role needs no policy of its own, and only via S3.
    const key = this.encryptionKey;
    key.addStatement({
      Sid: "ModelBuildersDecryptThroughS3",
      Effect: "Allow",
      Principal: principal,
      Action: ["kms:Decrypt", "kms:DescribeKey"],
      Resource: "*",
      Condition: { StringEquals: { "kms:ViaService": `s3.${key.region}.amazonaws.com` } },
    });
  }
}
