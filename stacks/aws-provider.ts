import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { TerraformStack } from "cdktf";
import { EnvironmentConfig } from "../app";

/** The AWS provider of an environment's stacks: its region, and tags on every resource that say whose it is. */
export function environmentAwsProvider(stack: TerraformStack, env: EnvironmentConfig): AwsProvider {
  return new AwsProvider(stack, "aws", {
    region: env.region,
    defaultTags: [{ tags: { ...env.tags, "voice-selfhost:environment": env.name, "managed-by": "cdktf" } }],
  });
}
