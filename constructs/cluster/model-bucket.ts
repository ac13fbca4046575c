import { Construct } from "constructs";
import { NetworkRefs } from "../network/types";
import { EncryptionKey } from "../shared/encryption-key";
import { SecureBucket } from "../shared/secure-bucket";

/** Props of ModelBucket. */
export interface ModelBucketProps {
  readonly network: NetworkRefs;
  /** The only principal that may read models: the inference pods' Pod Identity role (GpuCluster.addPodIdentityRole). */
  readonly readerRoleArn: string;
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
 * only, public access blocked. Reading objects is denied to every principal but the reader role,
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

    this.bucket.addStatement({
      Sid: "InferencePodsRead",
      Effect: "Allow",
      Principal: { AWS: props.readerRoleArn },
      Action: readActions,
      Resource: [this.bucket.arn, objects],
    });
    this.bucket.addStatement({
      Sid: "DenyReadsByOthers",
      Effect: "Deny",
      Principal: "*",
      Action: ["s3:GetObject", "s3:GetObjectVersion"],
      Resource: objects,
      Condition: { ArnNotEquals: { "aws:PrincipalArn": props.readerRoleArn } },
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
      Principal: { AWS: props.readerRoleArn },
      Action: ["kms:Decrypt", "kms:DescribeKey"],
      Resource: "*",
      Condition: { StringEquals: { "kms:ViaService": `s3.${key.region}.amazonaws.com` } },
    });
  }
}
