import { TerraformOutput, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { EnvironmentConfig } from "../app";
import { GpuCluster } from "../constructs/cluster";
import { setKeyAccess } from "../constructs/shared";
import { RetainedDataKey } from "../constructs/storage";
import { environmentAwsProvider } from "./aws-provider";
import { configureBackend } from "./backend";

/** The EKS cluster of an environment: named here, so `<env>-data` can admit its roles before `<env>-infra` creates them. */
export function environmentClusterName(env: Pick<EnvironmentConfig, "name">): string {
  return `voice-selfhost-${env.name}`;
}

export interface DataStackProps {
  readonly env: EnvironmentConfig;
}

/**
 * `<env>-data`: what must outlive `<env>-infra`. Today the key of the license proxies' retained
 * volumes: a destroy of the infra stack (the cluster with it) leaves the volumes, and this keeps them
 * readable. The key's policy admits the infra stack's EBS CSI driver role by its name, through EC2 only,
 * and the infra stack grants that role the key by its tag: neither reads the other's state. The
 * workloads stack names the key in its StorageClass, so apply this stack before that one.
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
      // The role does not exist yet (this stack is applied first), so it is admitted by its name prefix.
      volumeRoleNamePrefixes: [GpuCluster.ebsCsiRoleNamePrefix(environmentClusterName(env))],
      preventDestroy: env.deletionProtection,
      tags: { ...env.tags, "voice-selfhost:environment": env.name },
    });
    new TerraformOutput(this, "volume_key_arn", { value: this.volumeKey.arn });
  }
}
