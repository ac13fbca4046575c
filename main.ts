/** The cdktf app: one set of stacks per file in environments/. */
import { App } from "cdktf";
import * as path from "path";
import { ConfigError, EnvironmentConfig, loadEnvironments } from "./constructs/config";
import { InfraStack } from "./stacks/infra-stack";

export interface BuildOptions {
  /** Where cdk.tf.json files go; defaults to CDKTF_OUTDIR or cdktf.out. */
  readonly outdir?: string;
  /** Validated environments; defaults to every file in ENVIRONMENTS_DIR or environments/. */
  readonly environments?: EnvironmentConfig[];
}

export function buildApp(options: BuildOptions = {}): App {
  const environments = options.environments ?? loadEnvironments(path.resolve(process.env.ENVIRONMENTS_DIR ?? "environments"));
  const app = new App({ outdir: options.outdir, skipValidation: false });
  for (const env of environments) {
    new InfraStack(app, `${env.name}-infra`, { env });
  }
  return app;
}

if (require.main === module) {
  try {
    buildApp().synth();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(1);
  }
}
