import { Construct } from "constructs";
import { EncryptionKey } from "../shared/encryption-key";

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
  /** Refuse `terraform destroy` of the key (lifecycle prevent_destroy); default true. */
  readonly preventDestroy?: boolean;
  readonly tags?: Record<string, string>;
}

/**
 * The key of data that outlives the cluster: the license proxies' retained EBS volumes hold usage not
 * yet delivered, and a volume whose key is deleted can never be read again. Create it in a stack of its
 * own (the environments' `<env>-data`), so that destroying the infra stack, cluster and all, leaves the
 * key and with it the volumes readable. Users get access through IAM on the key's tag (its policy lets
 * the account's IAM policies grant it), so the key depends on nothing the cluster's stack creates, and
 * that stack needs nothing of this one's state.
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
    this.arn = this.key.arn;
  }
}

/** The tag IAM grants on retained-data keys match on. */
export const RETAINED_DATA_TAG = "voice-selfhost:retained-data";
