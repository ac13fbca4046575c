/**
 * What a real account will refuse, found without credentials from the environment file alone:
 * documentation placeholders (account ids, certificate ids, example hosts and address ranges) and
 * GPU instance types the offline offering table does not place in the region. The review reports
 * these; the pre-flight refuses them.
 */
import { EnvironmentConfig } from "../../app";
import { certificateRegion } from "../../constructs/ingress/settings";
import { cidrsOverlap, parseCidr } from "../../constructs/private/cidr";
import prices from "../pricing/aws-on-demand.json";

/** One thing to fix before an apply. `unknown`: the offline data cannot tell; the live check decides. */
export interface ReadinessFinding {
  /** What was checked: the file's own placeholders and certificate, and (live) the account, offerings, quotas, the state bucket; `unchecked` when a live call failed. */
  readonly check: "placeholder" | "certificate" | "offering" | "account" | "quota" | "state" | "unchecked";
  readonly severity: "error" | "unknown";
  /** The environment file's field, e.g. `cluster.adminPrincipalArns[0]`. */
  readonly field: string;
  readonly message: string;
}

/** Account ids AWS documentation uses in examples; any 12 identical digits is one too. */
export const PLACEHOLDER_ACCOUNTS: readonly string[] = ["111122223333", "444455556666", "777788889999", "123456789012", "012345678901"];
/** The AWS Organizations id AWS documentation uses in examples: VPC endpoints scoped to it admit no one of yours. */
const PLACEHOLDER_ORGANIZATIONS: readonly string[] = ["o-a1b2c3d4e5", "o-exampleorgid"];
/** Address ranges reserved for documentation (RFC 5737): no license server lives there. */
const DOCUMENTATION_CIDRS = ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"];
/** Top-level domains reserved for examples and tests (RFC 2606). */
const PLACEHOLDER_DOMAIN = /\.(example|invalid|test|localhost)(:\d+)?(\/|$)/i;

export function isPlaceholderAccount(id: string): boolean {
  return PLACEHOLDER_ACCOUNTS.includes(id) || /^(\d)\1{11}$/.test(id);
}

/** Every string in the file with its field path. */
function strings(value: unknown, field = ""): { field: string; value: string }[] {
  if (typeof value === "string") return [{ field, value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${field}[${i}]`));
  if (value !== null && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => strings(v, field ? `${field}.${k}` : k));
  return [];
}

/** Placeholders a real account refuses or that point nowhere: example accounts, all-zero certificates and model image digests, example hosts and documentation ranges. */
export function placeholderFindings(env: EnvironmentConfig): ReadinessFinding[] {
  const findings: ReadinessFinding[] = [];
  for (const { field, value } of strings(env)) {
    for (const [account] of value.matchAll(/(?<!\d)\d{12}(?!\d)/g)) {
      if (isPlaceholderAccount(account)) {
        findings.push({ check: "placeholder", severity: "error", field, message: `account ${account} is a documentation placeholder ("${value}"): put the target account's id` });
      }
    }
    if (PLACEHOLDER_DOMAIN.test(value)) findings.push({ check: "placeholder", severity: "error", field, message: `"${value}" names a host in a domain reserved for examples: put the real one` });
  }
  const certificate = env.ingress.certificateArn;
  const certificateId = certificate?.split("/").pop() ?? "";
  if (certificate && certificateId.replace(/[-0]/g, "").length <= 3) {
    findings.push({ check: "placeholder", severity: "error", field: "ingress.certificateArn", message: `certificate id ${certificateId} is a placeholder: put the ARN of the certificate ACM issued for the load balancer's name` });
  }
  for (const kind of ["stt", "tts"] as const) {
    const digest = env.workloads.models[kind].image?.digest;
    if (digest && /^sha256:(.)\1{63}$/.test(digest)) {
      findings.push({ check: "placeholder", severity: "error", field: `workloads.models.${kind}.image.digest`, message: `${digest} is a placeholder: build and push the model image, and put the digest the push printed` });
    }
  }
  const organization = env.perimeter.organizationId;
  if (organization && PLACEHOLDER_ORGANIZATIONS.includes(organization)) {
    findings.push({ check: "placeholder", severity: "error", field: "perimeter.organizationId", message: `${organization} is a documentation placeholder: the VPC endpoints would refuse every principal of yours; put your organisation's id` });
  }
  env.license.serverCidrs.forEach((c, i) => {
    const cidr = parseCidr(c);
    const documentation = DOCUMENTATION_CIDRS.find((d) => cidr && cidrsOverlap(cidr, parseCidr(d)!));
    if (documentation) findings.push({ check: "placeholder", severity: "error", field: `license.serverCidrs[${i}]`, message: `${c} is in ${documentation}, reserved for documentation: put the license server's addresses` });
  });
  return findings;
}

/**
 * GPU instance types against the offline offering table: a type priced in the region on AWS's
 * public pricing pages (scripts/pricing/aws-on-demand.json, dated) is offered there. Zone by zone
 * only the live check can tell: EC2 maps zone names to physical zones per account, so no offline
 * table can say whether your eu-west-1a offers a type.
 */
export function offeringFindings(env: EnvironmentConfig): ReadinessFinding[] {
  const region = (prices.regions as Record<string, { instances: Record<string, number> }>)[env.region];
  return env.nodePools.gpu.flatMap((pool, p) =>
    pool.instanceTypes
      .filter((type) => !region?.instances[type])
      .map((type, i) => ({
        check: "offering" as const,
        severity: "unknown" as const,
        field: `nodePools.gpu[${p}].instanceTypes[${i}]`,
        message: `${type} in ${env.region}: not in the offline table (AWS pricing pages as of ${prices.asOf}); the live check (DescribeInstanceTypeOfferings per zone) decides`,
      })),
  );
}

/** The certificate's region again, for tools that read a file the schema has not (the schema refuses a mismatch at synth). */
export function certificateFindings(env: EnvironmentConfig): ReadinessFinding[] {
  const arn = env.ingress.certificateArn;
  const region = arn ? certificateRegion(arn) : undefined;
  return arn && region !== env.region
    ? [{ check: "certificate", severity: "error", field: "ingress.certificateArn", message: `the certificate is in ${region ?? "no region"}, the load balancer in ${env.region}` }]
    : [];
}

/** Every offline finding of an environment. */
export function offlineFindings(env: EnvironmentConfig): ReadinessFinding[] {
  return [...placeholderFindings(env), ...certificateFindings(env), ...offeringFindings(env)];
}
