import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { EnvironmentConfig } from "../constructs/config";
import { configureBackend } from "./backend";

export interface InfraStackProps {
  readonly env: EnvironmentConfig;
}

/** `<env>-infra`: every AWS resource of one environment. */
export class InfraStack extends TerraformStack {
  constructor(scope: Construct, id: string, props: InfraStackProps) {
    super(scope, id);
    const { env } = props;
    configureBackend(this, env, id);
    new AwsProvider(this, "aws", {
      region: env.region,
      defaultTags: [{ tags: { ...env.tags, "voice-selfhost:environment": env.name, "managed-by": "cdktf" } }],
    });
  }
}
