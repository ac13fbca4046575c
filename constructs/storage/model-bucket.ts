import { Construct } from "constructs";
import { NetworkRefs } from "../network/types";
import { EncryptionKey } from "../shared/encryption-key";
import { SecureBucket } from "../shared/secure-bucket";

/** Props of ModelBucket. */
export interface ModelBucketProps {
  readonly network: NetworkRefs;
  /**
   * The inference pods' Pod Identity role (ClusterRefs.addPodIdentityRole).
   * @deprecated Call `bucket.grantRead(role)`; this prop does the same and goes in the next major version.
   */
  readonly readerRoleArn?: string;
  /** Bucket name prefix (a unique suffix is added); default `voice-models-`. */
  readonly namePrefix?: string;
  /** Statement id under which the bucket registers its reads with the network's S3 gateway endpoint; default `ModelBucket` (name a second bucket in the same network). */
  readonly s3ReadSid?: string;
  /** Days a replaced model version is kept for rollback; default 90. */
  readonly noncurrentVersionDays?: number;
  readonly tags?: Record<string, string>;
}

/**
 * Model weights the inference pods mount at start. Versioned, encrypted with a key of its own, TLS
 * only, public access blocked. Reading objects is denied to every principal but the readers given
 * `grantRead` (the inference pods' role),
 * and in air-gapped mode to every request that does not come through the VPC's S3 gateway endpoint.
 * Uploads are left to the account's IAM policies: operators publish models, pods only read them.
 * It registers its reads with the network's S3 gateway endpoint itself (NetworkRefs.allowS3Reads):
 * air-gapped, the endpoint admits nothing else.
 */
export class ModelBucket extends Construct {
  readonly bucket: SecureBucket;
  readonly bucketName: string;
  readonly bucketArn: string;
  readonly encryptionKey: EncryptionKey;
  private readonly readers: string[] = [];

  constructor(scope: Construct, id: string, props: ModelBucketProps) {
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
    const objects = `${this.bucket.arn}/*`;
    const readActions = ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"];
    // Read at synth, after every grantRead: one reader is written as a string, several as a list.
    const readers = this.readers;
    const principal = {
      get AWS(): string | string[] {
        return readers.length === 1 ? readers[0] : readers;
      },
    };
    this.bucket.addStatement({ Sid: "InferencePodsRead", Effect: "Allow", Principal: principal, Action: readActions, Resource: [this.bucket.arn, objects] });
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
    if (props.network.mode === "airgapped") {
      this.bucket.addStatement({
        Sid: "DenyReadsOutsideVpcEndpoint",
        Effect: "Deny",
        Principal: "*",
        Action: ["s3:GetObject", "s3:GetObjectVersion"],
        Resource: objects,
        Condition: { StringNotEquals: { "aws:sourceVpce": props.network.s3GatewayEndpointId } },
      });
    }
    props.network.allowS3Reads(props.s3ReadSid ?? "ModelBucket", [this.bucket.arn]);
    // Reading an SSE-KMS object needs kms:Decrypt; granted here so the role needs no policy of its own, and only via S3.
    key.addStatement({
      Sid: "InferencePodsDecryptThroughS3",
      Effect: "Allow",
      Principal: principal,
      Action: ["kms:Decrypt", "kms:DescribeKey"],
      Resource: "*",
      Condition: { StringEquals: { "kms:ViaService": `s3.${key.region}.amazonaws.com` } },
    });
    if (props.readerRoleArn) this.grantRead(props.readerRoleArn);
    this.node.addValidation({
      validate: () => (readers.length > 0 ? [] : [`ModelBucket ${this.node.path}: no reader: call grantRead(role) with the inference pods' Pod Identity role`]),
    });
  }

  /**
   * Lets `role` (an IamRole or its ARN) list and read the models, and decrypt them through S3; every
   * other principal stays denied. Usually the inference pods' Pod Identity role.
   */
  grantRead(role: { readonly arn: string } | string): void {
    const arn = typeof role === "string" ? role : role.arn;
    if (!this.readers.includes(arn)) this.readers.push(arn);
  }
}
