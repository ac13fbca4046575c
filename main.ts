/** The cdktf app: one set of stacks per file in environments/. */
import { App, TerraformStack } from "cdktf";
import * as path from "path";
import { ConfigError, EnvironmentConfig, loadEnvironments } from "./app";
import { enforcePolicy } from "./constructs/policy";
import { setTokenStackTraces, stackTracesWanted } from "./constructs/private/stack-traces";
import { DataStack } from "./stacks/data-stack";
import { InfraStack } from "./stacks/infra-stack";
import { WorkloadsStack } from "./stacks/workloads-stack";

export interface BuildOptions {
  /** Where cdk.tf.json files go; defaults to CDKTF_OUTDIR or cdktf.out. */
  readonly outdir?: string;
  /** Validated environments; defaults to every file in ENVIRONMENTS_DIR or environments/. */
  readonly environments?: EnvironmentConfig[];
  /** Synthesize even with policy violations (the review report shows them instead of failing). */
  readonly skipValidation?: boolean;
  /** The day EKS version support is checked against; default today. */
  readonly synthDate?: Date;
}

export function buildApp(options: BuildOptions = {}): App {
  const environments = options.environments ?? loadEnvironments(path.resolve(process.env.ENVIRONMENTS_DIR ?? "environments"));
  // Stack traces cost ~15% of synth and serve only debugging: VOICE_SELFHOST_STACK_TRACES=1 keeps them.
  const stackTraces = setTokenStackTraces(stackTracesWanted());
  const app = new App({ outdir: options.outdir, skipValidation: options.skipValidation ?? false, stackTraces });
  for (const env of environments) {
    const data = new DataStack(app, `${env.name}-data`, { env });
    const infra = new InfraStack(app, `${env.name}-infra`, { env, data, synthDate: options.synthDate });
    new WorkloadsStack(app, `${env.name}-workloads`, { env, infra });
  }
  enforceEnvironmentPolicies(app, environments);
  return app;
}

/** Every stack is checked at synth, in its environment's mode, with its environment file's acknowledgements. */
function enforceEnvironmentPolicies(app: App, environments: EnvironmentConfig[]): void {
  for (const stack of app.node.children.filter((c): c is TerraformStack => TerraformStack.isStack(c))) {
    // Stacks are named `<env>-<part>`; the longest matching name wins when one environment's name prefixes another's.
    const env = environments.filter((e) => stack.node.id.startsWith(`${e.name}-`)).sort((a, b) => b.name.length - a.name.length)[0];
    if (!env) throw new Error(`stack ${stack.node.id} belongs to no environment: name stacks <env>-<part>`);
    enforcePolicy(stack, {
      mode: env.mode,
      acknowledgements: env.policy.acknowledgements.map((a) => ({ ...a, source: `environments/${env.name}.json` })),
    });
  }
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
