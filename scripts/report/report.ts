/** Builds the per-stack review report (JSON for machines, Markdown for a pull request) from one engine's results. */
import { PolicyReport } from "../../constructs/policy/types";
import { containersOf, podSpecOf, StackView, TfResource, valueAt } from "../../constructs/policy/stack-view";
import { CostEstimate } from "./cost";
import { mermaidBlock } from "./diagram";
import { StackDiff } from "./diff";
import { ModelLine } from "./models";
import type { ReadinessFinding } from "../preflight/offline";

/** Attributes a security reviewer looks at, per resource type. */
const SECURITY_SETTINGS: Readonly<Record<string, readonly string[]>> = {
  aws_vpc: ["cidr_block"],
  aws_subnet: ["availability_zone", "cidr_block", "map_public_ip_on_launch"],
  aws_route: ["destination_cidr_block", "gateway_id", "nat_gateway_id", "transit_gateway_id"],
  aws_security_group_rule: ["type", "protocol", "from_port", "to_port", "cidr_blocks", "source_security_group_id"],
  aws_vpc_security_group_ingress_rule: ["ip_protocol", "from_port", "to_port", "cidr_ipv4", "cidr_ipv6", "referenced_security_group_id"],
  aws_vpc_security_group_egress_rule: ["ip_protocol", "from_port", "to_port", "cidr_ipv4", "cidr_ipv6", "referenced_security_group_id"],
  aws_vpc_endpoint: ["service_name", "vpc_endpoint_type", "private_dns_enabled"],
  aws_eks_cluster: ["version", "vpc_config.endpoint_public_access", "vpc_config.endpoint_private_access", "vpc_config.public_access_cidrs", "encryption_config.resources", "enabled_cluster_log_types", "access_config.authentication_mode"],
  aws_eks_node_group: ["ami_type", "capacity_type", "instance_types", "scaling_config.min_size", "scaling_config.max_size"],
  aws_launch_template: ["metadata_options.http_tokens", "metadata_options.http_put_response_hop_limit", "block_device_mappings.ebs.encrypted"],
  aws_ecr_repository: ["name", "image_tag_mutability", "image_scanning_configuration.scan_on_push", "encryption_configuration.encryption_type"],
  aws_s3_bucket_public_access_block: ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"],
  aws_lb: ["internal", "load_balancer_type", "enable_deletion_protection", "access_logs.enabled"],
  aws_lb_listener: ["protocol", "port", "ssl_policy"],
  aws_kms_key: ["enable_key_rotation", "deletion_window_in_days"],
  aws_cloudwatch_log_group: ["name", "retention_in_days", "kms_key_id"],
  aws_iam_role_policy_attachment: ["policy_arn"],
};

function show(value: unknown): string {
  if (value === undefined) return "(unset)";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** How many of the changed resources a `moved` block renamed, for the summary line. */
const moves = (d: { changed: readonly { movedFrom?: string }[] }): string => {
  const n = d.changed.filter((c) => c.movedFrom).length;
  return n ? ` (${n} of them moved)` : "";
};

/** The settings shown for one resource in the report. */
export function securitySettings(resource: TfResource): Record<string, string> {
  const object = resource.object;
  if (object) {
    const spec = podSpecOf(object);
    const out: Record<string, string> = { kind: object.kind, name: `${object.metadata.namespace ? `${object.metadata.namespace}/` : ""}${object.metadata.name ?? ""}` };
    if (spec) {
      const containers = containersOf(spec, { includeInit: true });
      out.images = containers.map((c) => String(c.image).replace(/\$\{[^}]*\}/, "<ecr>")).join(", ");
      out.runAsNonRoot = show(spec.securityContext?.runAsNonRoot ?? containers.map((c) => c.securityContext?.runAsNonRoot));
      out.readOnlyRootFilesystem = show(containers.map((c) => c.securityContext?.readOnlyRootFilesystem));
      if (valueAt(object, ["spec", "replicas"]) !== undefined) out.replicas = show(valueAt(object, ["spec", "replicas"]));
      const hostPaths = (spec.volumes ?? []).filter((v) => v.hostPath).map((v) => show(valueAt(v, ["hostPath", "path"])));
      if (hostPaths.length) out.hostPath = hostPaths.join(", ");
      // Which operator-created Secret feeds which volume (e.g. the API keys / teams document), so a reviewer knows what must exist.
      const secrets = (spec.volumes ?? []).filter((v) => v.secret).map((v) => `${v.name}=${show(valueAt(v, ["secret", "secretName"]))}`);
      if (secrets.length) out.secrets = secrets.join(", ");
    }
    if (object.kind === "NetworkPolicy") out.policyTypes = show(valueAt(object, ["spec", "policyTypes"]));
    return out;
  }
  const out: Record<string, string> = {};
  for (const attribute of SECURITY_SETTINGS[resource.type] ?? []) {
    const value = valueAt(resource.values, attribute.split("."));
    if (value !== undefined) out[attribute] = show(value).replace(/\$\{([a-z0-9_]+)\.[^}]*\}/g, "<$1>");
  }
  return out;
}

export interface ResourceGroup {
  /** The construct directly under the stack (e.g. `prod-infra/network`). */
  readonly construct: string;
  readonly types: Record<string, { address: string; path: string; settings: Record<string, string> }[]>;
}

export interface StackReport {
  readonly stack: string;
  readonly environment: string;
  readonly mode: string;
  readonly region: string | undefined;
  readonly resourceCount: number;
  readonly policy: PolicyReport;
  /** What a real account will refuse, found offline in the environment file (placeholders, offerings); `npm run preflight` refuses them. */
  readonly readiness: ReadinessFinding[];
  /** Null when no baseline was given. */
  readonly diff: (StackDiff & { readonly baseline: string }) | null;
  readonly cost: CostEstimate;
  /** The speech models the stack's inference services run (empty for an infra stack). */
  readonly models: ModelLine[];
  /** Mermaid source of the environment's topology. */
  readonly diagram: string;
  readonly resources: ResourceGroup[];
}

export function groupResources(stack: StackView): ResourceGroup[] {
  const groups = new Map<string, ResourceGroup>();
  for (const r of [...stack.resources].sort((a, b) => a.path.localeCompare(b.path))) {
    const construct = r.path.split("/").slice(0, 2).join("/");
    const group = groups.get(construct) ?? { construct, types: {} };
    (group.types[r.selector] ??= []).push({ address: r.address, path: r.path, settings: securitySettings(r) });
    groups.set(construct, group);
  }
  return [...groups.values()];
}

/** Long values (policy documents) are cut in the Markdown; the JSON report keeps them whole. */
const brief = (value: unknown) => {
  const text = show(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
};
const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");
const usd = (n: number) => `$${n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

export function renderMarkdown(r: StackReport): string {
  const p = r.policy;
  const count = (s: string) => p.rules.filter((x) => x.status === s).length;
  const verdict = p.violations.length ? `**FAIL**: ${p.violations.length} violation(s)` : "**PASS**";
  const out: string[] = [
    `# Review: \`${r.stack}\``,
    "",
    `Environment **${r.environment}** · mode **${r.mode}** · region ${r.region ?? "(unknown)"} · ${r.resourceCount} resources · generated by \`npm run review\` from the synthesized stack (no credentials, no Terraform).`,
    "",
    `## Policy: ${verdict}`,
    "",
    `${p.rules.length} rules: ${count("pass")} pass, ${count("acknowledged")} acknowledged, ${count("fail")} fail, ${count("not-applicable")} not applicable.`,
    "",
  ];
  if (p.violations.length) {
    out.push("| Rule | Resource | Problem | Fix |", "|---|---|---|---|");
    for (const v of p.violations) out.push(`| ${v.rule} | \`${v.path}\` | ${cell(v.message)} | ${cell(v.fix)} |`);
    out.push("");
  }
  if (p.acknowledged.length) {
    out.push("### Acknowledged exceptions", "", "| Rule | Resource | Finding | Reason | Source |", "|---|---|---|---|---|");
    for (const a of p.acknowledged) out.push(`| ${a.rule} | \`${a.path}\` | ${cell(a.message)} | ${cell(a.acknowledgement!.reason)} | ${a.acknowledgement!.source ?? ""} |`);
    out.push("");
  }
  out.push("<details><summary>Every rule</summary>", "", "| Rule | Title | Status |", "|---|---|---|");
  for (const rule of p.rules) out.push(`| ${rule.id} | ${cell(rule.title)} | ${rule.status} |`);
  out.push("", "</details>", "");

  const errors = r.readiness.filter((f) => f.severity === "error").length;
  out.push(`## Deploy readiness: ${errors ? `**${errors} to fix before an apply**` : "nothing found offline"}`, "");
  out.push(`What a real account refuses, read from \`environments/${r.environment}.json\` without credentials; \`npm run preflight -- ${r.environment}\` refuses the same and checks the account itself.`, "");
  if (r.readiness.length) {
    out.push("| Check | Field | Finding |", "|---|---|---|");
    for (const f of r.readiness) out.push(`| ${f.check}${f.severity === "unknown" ? " (unknown offline)" : ""} | \`${f.field}\` | ${cell(f.message)} |`);
    out.push("");
  }

  out.push("## Changes");
  if (!r.diff) out.push("", "No baseline given (`--baseline <cdktf.out>` or `--baseline-ref <git ref>`).", "");
  else {
    const d = r.diff;
    const forgotten = d.forgotten.length ? `, ${d.forgotten.length} no longer managed (kept)` : "";
    out.push("", `Against \`${d.baseline}\`${d.baselineHadStack ? "" : " (the stack is new)"}: ${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed${moves(d)}${forgotten}.`, "");
    if (d.statefulRisks.length) {
      out.push("> [!WARNING]", "> This change destroys or replaces stateful resources:", ">");
      for (const s of d.statefulRisks) out.push(`> - **${s.action}** \`${s.path}\` (${s.type}; holds ${s.holds})${s.attributes.length ? ` because of ${s.attributes.map((a) => `\`${a}\``).join(", ")}` : ""}`);
      out.push("");
    }
    if (d.added.length + d.removed.length + d.forgotten.length + d.changed.length) {
      out.push("| Change | Resource | Type | Attributes |", "|---|---|---|---|");
      for (const a of d.added) out.push(`| added | \`${a.path}\` | ${a.selector} | |`);
      for (const a of d.removed) out.push(`| removed | \`${a.path}\` | ${a.selector} | |`);
      for (const a of d.forgotten) out.push(`| no longer managed | \`${a.path}\` | ${a.selector} | a \`removed\` block with \`destroy = false\`: Terraform forgets it, the object stays |`);
      for (const c of d.changed) {
        const attrs = c.attributes.map((a) => `\`${a.attribute}\`: ${cell(brief(a.before))} → ${cell(brief(a.after))}${a.forcesReplacement ? " (forces replacement)" : ""}`);
        if (c.movedFrom) attrs.unshift(`moved from \`${c.movedFrom}\` (a \`moved\` block: state follows, nothing is replaced)`);
        out.push(`| ${c.movedFrom ? "moved" : "changed"} | \`${c.path}\` | ${c.selector} | ${attrs.join("<br>")} |`);
      }
      out.push("");
    }
  }

  const c = r.cost;
  out.push(`## Estimated monthly cost (${c.label})`, "", `Prices: ${c.priceSource} As of ${c.priceDate}. Region ${c.region ?? "(unknown)"}.`, "");
  if (c.lines.length) {
    out.push("| Item | Quantity (min–max) | Unit / month | Month at min | Month at max | Note |", "|---|---|---|---|---|---|");
    for (const l of c.lines) {
      const qty = l.quantityMin === l.quantityMax ? `${l.quantityMin}` : `${l.quantityMin}–${l.quantityMax}`;
      out.push(`| ${cell(l.item)} | ${qty} | ${l.unitMonthly === undefined ? "no price" : usd(l.unitMonthly)} | ${usd(l.monthlyMin)} | ${usd(l.monthlyMax)} | ${cell(l.note ?? "")} |`);
    }
    out.push(`| **Total (estimate)** | | | **${usd(c.totalMin)}** | **${usd(c.totalMax)}** | |`);
    if (c.lines.some((l) => l.unused)) {
      out.push(`| of which unused GPU capacity | | | ${usd(c.unusedMin)} | ${usd(c.unusedMax)} | GPU pools no workload's engines use (VS-EKS-005) or only CPU engines hold (VS-K8S-016) |`);
    }
    out.push("");
  } else out.push("Nothing in this stack has a priced hourly charge.", "");
  if (c.unpriced.length) out.push(`Not priced (missing from the table, left out of the totals): ${c.unpriced.join(", ")}.`, "");
  out.push(`Excludes: ${c.excludes}`, "");

  if (r.models.length) {
    out.push("## Speech models", "", "| Service | Kind | Engine | Weights from | Provider |", "|---|---|---|---|---|");
    for (const m of r.models) out.push(`| ${m.service} | ${m.kind} | ${m.engine} | ${cell(m.location)} | ${m.provider} |`);
    out.push("", "Mounted models are checked at start against the manifest the model import wrote (every file's size and SHA-256, and the engine).", "");
  }
  out.push(`## Topology of ${r.environment}`, "", mermaidBlock(r.diagram), "");
  out.push("## Resources", "");
  for (const g of r.resources) {
    const total = Object.values(g.types).reduce((n, list) => n + list.length, 0);
    out.push(`<details><summary><code>${g.construct}</code>: ${total} resource(s)</summary>`, "", "| Type | Resource | Security-relevant settings |", "|---|---|---|");
    for (const [type, list] of Object.entries(g.types)) {
      for (const item of list) {
        const settings = Object.entries(item.settings).map(([k, v]) => `${k}=${v}`).join("; ");
        out.push(`| ${type} | \`${item.path}\` | ${cell(settings)} |`);
      }
    }
    out.push("", "</details>", "");
  }
  return out.join("\n");
}
