import { LocalBackend, S3Backend, TerraformStack } from "cdktf";
import { EnvironmentConfig } from "../app";

/** Points a stack's state at the environment's backend; each stack gets its own state key. */
export function configureBackend(stack: TerraformStack, env: EnvironmentConfig, stackId: string): void {
  const backend = env.stateBackend;
  if (backend.type === "local") {
    new LocalBackend(stack, { path: backend.path ? `${backend.path}/${stackId}.tfstate` : `terraform.${stackId}.tfstate` });
    return;
  }
  const s3 = new S3Backend(stack, {
    bucket: backend.bucket,
    key: `${backend.key.replace(/\/+$/, "")}/${stackId}.tfstate`,
    region: backend.region,
    encrypt: true,
    kmsKeyId: backend.kmsKeyId,
    dynamodbTable: backend.dynamodbTable,
  });
  // S3-native locking (Terraform >= 1.10) is newer than cdktf's typed backend config.
  if (!backend.dynamodbTable && backend.useLockfile) s3.addOverride("use_lockfile", true);
}
