import type { IStorageClass } from "kubernetes-models/storage.k8s.io/v1/StorageClass";
import { Manifest } from "@cdktf/provider-kubernetes/lib/manifest";
import { Construct } from "constructs";
import { k8sObject } from "./private/manifest";

/** Props of EncryptedStorageClass. */
export interface EncryptedStorageClassProps {
  /** Default `voice-selfhost-gp3-encrypted`. */
  readonly name?: string;
  /**
   * Customer-managed KMS key for the volumes. Default: the account's EBS default key. The EBS CSI
   * driver's role must be allowed to use the key (CreateGrant, GenerateDataKey*, Decrypt).
   */
  readonly kmsKeyArn?: string;
}

/**
 * gp3 volumes from the EBS CSI driver, always encrypted. `Retain`: deleting a claim never deletes
 * the data (the license proxy's usage spool is billing data); `WaitForFirstConsumer`: the volume is
 * created in the zone the pod is scheduled to.
 */
export class EncryptedStorageClass extends Construct {
  readonly name: string;
  readonly storageClass: Manifest;

  constructor(scope: Construct, id: string, props: EncryptedStorageClassProps = {}) {
    super(scope, id);
    this.name = props.name ?? "voice-selfhost-gp3-encrypted";
    const sc: IStorageClass = {
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: { name: this.name, labels: { "app.kubernetes.io/part-of": "voice-selfhost" } },
      provisioner: "ebs.csi.aws.com",
      parameters: { type: "gp3", encrypted: "true", ...(props.kmsKeyArn ? { kmsKeyId: props.kmsKeyArn } : {}) },
      reclaimPolicy: "Retain",
      volumeBindingMode: "WaitForFirstConsumer",
      allowVolumeExpansion: true,
    };
    this.storageClass = k8sObject(this, "storage-class", sc);
  }
}
