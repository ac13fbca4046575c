/**
 * `npm run preflight -- <env> [--offline]`: what a real account will refuse, before any apply.
 *
 * Offline (always): placeholders in the environment file, the certificate's region, GPU types the
 * offline offering table does not place in the region. Then, unless `--offline`, read-only calls
 * with the caller's AWS credentials: the account, instance-type offerings in each chosen zone, GPU
 * vCPU quotas, the certificate's status, and the state bucket (exists, versioned).
 *
 * Exit codes: 0 nothing refused; 1 something to fix (listed); 2 bad arguments or environment file;
 * 3 nothing refused, but live checks could not run (no credentials, or an API error, listed).
 */
import * as path from "path";
import { ConfigError, EnvironmentConfig, loadEnvironments } from "../app";
import { offlineFindings, ReadinessFinding } from "./preflight/offline";
import { AwsClients, awsClients, onlineFindings } from "./preflight/online";

export class PreflightUsageError extends Error {}

export interface PreflightOptions {
  readonly environment: string;
  readonly offline: boolean;
}

export function parsePreflightArgs(argv: string[]): PreflightOptions {
  const names = argv.filter((a) => !a.startsWith("--"));
  const unknown = argv.filter((a) => a.startsWith("--") && a !== "--offline");
  if (unknown.length) throw new PreflightUsageError(`unknown option ${unknown.join(", ")}; expected: npm run preflight -- <environment> [--offline]`);
  if (names.length !== 1) throw new PreflightUsageError("expected one environment: npm run preflight -- <environment> [--offline]");
  return { environment: names[0], offline: argv.includes("--offline") };
}

export interface PreflightResult {
  readonly findings: ReadinessFinding[];
  readonly exitCode: 0 | 1 | 3;
  readonly lines: string[];
}

/** Runs the checks; `clients` stands in for AWS (tests); omitted, the live checks use the default credential chain unless offline. */
export async function preflight(env: EnvironmentConfig, options: { offline: boolean; clients?: AwsClients }): Promise<PreflightResult> {
  const offline = offlineFindings(env);
  const live = options.offline ? [] : await onlineFindings(env, options.clients ?? awsClients(env));
  // The live offering check answers what the offline table could not.
  const findings = options.offline ? offline : [...offline.filter((f) => !(f.check === "offering" && f.severity === "unknown")), ...live];
  const refused = findings.filter((f) => f.severity === "error");
  const unchecked = findings.filter((f) => f.severity === "unknown");
  const lines = [
    `preflight ${env.name} (${env.region}): ${options.offline ? "offline checks only (--offline)" : "offline checks and read-only AWS calls"}`,
    ...findings.map((f) => `  ${f.severity === "error" ? "REFUSED" : "UNKNOWN"} ${f.check} ${f.field}: ${f.message}`),
    refused.length ? `${refused.length} thing(s) a real account will refuse: fix them before \`cdktf deploy\`.` : unchecked.length ? "nothing refused, but not everything could be checked (above)." : "nothing refused.",
  ];
  const exitCode = refused.length ? 1 : unchecked.length && !options.offline ? 3 : 0;
  return { findings, exitCode, lines };
}

if (require.main === module) {
  (async () => {
    let options: PreflightOptions;
    let env: EnvironmentConfig | undefined;
    try {
      options = parsePreflightArgs(process.argv.slice(2));
      const all = loadEnvironments(path.resolve(process.env.ENVIRONMENTS_DIR ?? "environments"));
      env = all.find((e) => e.name === options.environment);
      if (!env) throw new PreflightUsageError(`unknown environment ${options.environment}; known: ${all.map((e) => e.name).join(", ")}`);
    } catch (err) {
      if (!(err instanceof PreflightUsageError || err instanceof ConfigError)) throw err;
      console.error(err.message);
      process.exit(2);
    }
    const result = await preflight(env, { offline: options.offline });
    console.log(result.lines.join("\n"));
    process.exit(result.exitCode);
  })().catch((err: unknown) => {
    console.error(err instanceof Error ? err.stack ?? err.message : String(err));
    process.exit(1);
  });
}
