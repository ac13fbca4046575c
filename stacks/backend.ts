import { App, LocalBackend, S3Backend, TerraformStack } from "cdktf";
import * as path from "path";
import { ConfigError, EnvironmentConfig } from "../app";

/** Where local state goes unless the environment names a folder: outside cdktf.out, which every synth replaces. */
export const DEFAULT_LOCAL_STATE_DIR = "terraform-state";

/** The state file of one stack with a local backend: an absolute path, so Terraform finds it from any working directory. */
export function localStatePath(env: EnvironmentConfig, stackId: string): string {
  if (env.stateBackend.type !== "local") throw new Error(`${env.name}: its state backend is ${env.stateBackend.type}, not local`);
  return path.join(path.resolve(env.stateBackend.path ?? DEFAULT_LOCAL_STATE_DIR), `${stackId}.tfstate`);
}

function isInside(child: string, parent: string): boolean {
  const relative = path.relative(parent, child);
  return relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative));
}

/**
 * Points a stack's state at the environment's backend; each stack gets its own state key. Local
 * state is written at an absolute path outside the synth output: cdktf runs Terraform in
 * `cdktf.out/stacks/<stack>/`, so a relative path would put the state inside the folder `npm run
 * synth` deletes, and another stack's `terraform_remote_state` would look for it in its own folder.
 */
export function configureBackend(stack: TerraformStack, env: EnvironmentConfig, stackId: string): void {
  const backend = env.stateBackend;
  if (backend.type === "local") {
    const file = localStatePath(env, stackId);
    // The scratch folder this synth writes into, and the folder it then replaces.
    const outputs = [App.of(stack).outdir, process.env.CDKTF_OUTDIR ?? "cdktf.out"].map((o) => path.resolve(o));
    const inside = outputs.find((o) => isInside(file, o));
    if (inside) {
      throw new ConfigError([
        `environments/${env.name}.json: field "stateBackend.path": expected a folder outside the synth output ${inside}, found ${path.dirname(file)}: every synth replaces that folder, and the state with it`,
      ]);
    }
    new LocalBackend(stack, { path: file });
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
