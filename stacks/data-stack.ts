import { TerraformOutput, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { EnvironmentConfig } from "../app";
import { setKeyAccess } from "../constructs/shared";
import { RetainedDataKey } from "../constructs/storage";
import { environmentAwsProvider } from "./aws-provider";
import { configureBackend } from "./backend";

export interface DataStackProps {
  readonly env: EnvironmentConfig;
}

/**
 * `<env>-data`: what must outlive `<env>-infra`. Today the key of the license proxies' retained
 * volumes: a destroy of the infra stack (the cluster with it) leaves the volumes, and this keeps them
 * readable. The infra stack grants the EBS CSI driver the key by its tag and reads nothing of this
 * stack's; the workloads stack names the key in its StorageClass, so apply this stack before that one.
 * Destroyed only on purpose: the key refuses a destroy while the environment's deletionProtection is on.
 */
export class DataStack extends TerraformStack {
  readonly volumeKey: RetainedDataKey;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id);
    const { env } = props;
    configureBackend(this, env, id);
    environmentAwsProvider(this, env);
    // The same key administrators and users as the environment's other keys (VS-KMS-002).
    if (env.keys) setKeyAccess(this, env.keys);
    this.volumeKey = new RetainedDataKey(this, "volume-key", {
      purpose: `the license proxies' persistent volumes (usage spool and lease) of ${env.name}`,
      grantTagValue: env.name,
      preventDestroy: env.deletionProtection,
      tags: { ...env.tags, "voice-selfhost:environment": env.name },
    });
    new TerraformOutput(this, "volume_key_arn", { value: this.volumeKey.arn });
  }
}
