import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { TerraformOutput, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { EnvironmentConfig } from "../constructs/config";
import { PrivateNetwork } from "../constructs/network";
import { configureBackend } from "./backend";

export interface InfraStackProps {
  readonly env: EnvironmentConfig;
}

/** `<env>-infra`: every AWS resource of one environment. */
export class InfraStack extends TerraformStack {
  readonly network: PrivateNetwork;

  constructor(scope: Construct, id: string, props: InfraStackProps) {
    super(scope, id);
    const { env } = props;
    configureBackend(this, env, id);
    new AwsProvider(this, "aws", {
      region: env.region,
      defaultTags: [{ tags: { ...env.tags, "voice-selfhost:environment": env.name, "managed-by": "cdktf" } }],
    });

    this.network = new PrivateNetwork(this, "network", {
      name: env.name,
      cidr: env.vpcCidr,
      azs: env.availabilityZones,
      region: env.region,
      mode: env.mode,
      natGateways: env.natGateways,
      flowLogRetentionDays: env.flowLogRetentionDays,
    });
    new TerraformOutput(this, "vpc_id", { value: this.network.vpcId });
    new TerraformOutput(this, "private_subnet_ids", { value: this.network.privateSubnetIds });
    new TerraformOutput(this, "endpoint_security_group_id", { value: this.network.endpointSecurityGroupId });
  }
}
