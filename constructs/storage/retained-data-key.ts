import { Construct } from "constructs";
import { EBS_LAUNCH_ACTIONS, EncryptionKey, GRANT_ACTIONS } from "../shared/encryption-key";
import { RETAINED_DATA_TAG } from "../private/names";

/**
 * A key another stack may use without reading its state: users are granted it through IAM on the tag
 * it carries (attribute-based: `aws:ResourceTag/<key>` equals `<value>`), so only the workloads that
 * name the key in a volume need its ARN.
 */
export interface TaggedKeyRef {
  readonly arn: string;
  readonly grantTag: { readonly key: string; readonly value: string };
}

/** Props of RetainedDataKey. */
export interface RetainedDataKeyProps {
  /** What the key encrypts, for its description. */
  readonly purpose: string;
  /** The value of the `voice-selfhost:retained-data` tag IAM grants match on; unique per environment sharing an account (e.g. the environment name). */
  readonly grantTagValue: string;
  /**
   * Name prefixes of the IAM roles that create and attach the volumes: the EBS CSI driver's role of each
   * cluster that uses the key (`GpuCluster.ebsCsiRoleNamePrefix(clusterName)`). The roles are created later, by another
   * stack, so they are matched by name and through EC2 only (EncryptionKey.allowRolesThroughService).
   */
  readonly volumeRoleNamePrefixes?: readonly string[];
  /** Refuse `terraform destroy` of the key (lifecycle prevent_destroy); default true. */
  readonly preventDestroy?: boolean;
  readonly tags?: Record<string, string>;
}

/**
 * The key of data that outlives the cluster: the license proxies' retained EBS volumes hold usage not
 * yet delivered, and a volume whose key is deleted can never be read again. Create it in a stack of its
 * own (the environments' `<env>-data`), so that destroying the infra stack, cluster and all, leaves the
 * key and with it the volumes readable. The roles that create the volumes are admitted twice, and both
 * must agree: the key policy lets roles of `volumeRoleNamePrefixes` use it through EC2 (no other way,
 * since with named key administrators the account root only recovers the key, and IAM alone grants
 * nothing), and their own IAM policies grant it on the key's tag. So the key depends on nothing the
 * cluster's stack creates, and that stack needs nothing of this one's state.
 */
export class RetainedDataKey extends Construct implements TaggedKeyRef {
  readonly key: EncryptionKey;
  readonly arn: string;
  readonly grantTag: { readonly key: string; readonly value: string };

  constructor(scope: Construct, id: string, props: RetainedDataKeyProps) {
    super(scope, id);
    this.grantTag = { key: RETAINED_DATA_TAG, value: props.grantTagValue };
    this.key = new EncryptionKey(this, "key", { description: `Retained data: ${props.purpose}`, tags: { ...props.tags, [RETAINED_DATA_TAG]: props.grantTagValue } });
    this.key.key.lifecycle = { preventDestroy: props.preventDestroy ?? true };
    // What EBS does as the role that creates a volume (the data key) and attaches it (a grant for the instance).
    (props.volumeRoleNamePrefixes ?? []).forEach((prefix, i) =>
      this.key.allowRolesThroughService({ sid: `VolumeRoles${i}UseKeyThroughEc2`, roleNamePrefix: prefix, service: "ec2", actions: [...EBS_LAUNCH_ACTIONS, ...GRANT_ACTIONS] }),
    );
    this.arn = this.key.arn;
  }
}
