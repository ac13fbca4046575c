/** Runs the rules over one stack and sorts findings into violations and acknowledged exceptions. */
import { z } from "zod";
import { RULES } from "./rules";
import { StackView } from "./stack-view";
import { Acknowledgement, ANY_RESOURCE, Finding, PolicyContext, PolicyOptions, PolicyReport, PolicyRule, RuleStatus } from "./types";

/** Shortest reason an acknowledgement may give: a reviewer must be able to judge it. */
export const MIN_REASON_LENGTH = 20;

/**
 * True when `ack.resource` names `path`: the same construct, a construct above it (its whole
 * subtree), or a glob where `*` matches within one path segment and `**` across segments.
 */
export function acknowledgementCovers(ack: Acknowledgement, path: string): boolean {
  if (path === ack.resource || path.startsWith(`${ack.resource}/`)) return true;
  if (!ack.resource.includes("*")) return false;
  const pattern = ack.resource
    .split(/(\*\*|\*)/)
    .map((part) => (part === "**" ? ".*" : part === "*" ? "[^/]*" : part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${pattern}$`).test(path);
}

/**
 * One acknowledgement as an environment file or code declares it: the one definition of what makes
 * it valid (a known rule, a construct path or glob, a reason a reviewer can judge).
 */
export const acknowledgementSchema = z
  .object({
    rule: z.string().refine((id) => RULES.some((r) => r.id === id), { message: "unknown rule id; expected a policy rule id such as VS-EKS-001 (see constructs/policy/rules)" }),
    /** Construct path (that construct and everything under it) or glob, e.g. "prod-infra/cluster/**". */
    resource: z.string().trim().min(1, "expected a construct path or glob"),
    reason: z.string().trim().min(MIN_REASON_LENGTH, `expected a reason of at least ${MIN_REASON_LENGTH} characters a reviewer can judge`),
  })
  .strict();

/** Problems with acknowledgements themselves (acknowledgementSchema): unknown rules and reasons too short to review. */
export function acknowledgementProblems(acks: readonly Acknowledgement[]): string[] {
  return acks.flatMap((ack, i) => {
    const where = `acknowledgement #${i + 1} (${ack.rule} on ${ack.resource}${ack.source ? `, from ${ack.source}` : ""})`;
    const result = acknowledgementSchema.safeParse({ rule: ack.rule, resource: ack.resource, reason: ack.reason });
    return result.success ? [] : result.error.issues.map((issue) => `${where}: ${issue.path.join(".")}: ${issue.message}`);
  });
}

function applies(rule: PolicyRule, context: PolicyContext): boolean {
  return !rule.modes || rule.modes.includes(context.mode);
}

/** Findings of one rule, before acknowledgements. */
function run(rule: PolicyRule, context: PolicyContext): { findings: Omit<Finding, "acknowledgement">[]; checked: number } {
  const base = { rule: rule.id, title: rule.title, fix: rule.fix };
  if (rule.appliesTo === "stack") {
    const relevant = context.stack.resources.filter((r) => rule.relevantTo.includes(r.selector)).length;
    return { findings: relevant ? rule.check(context).map((f) => ({ ...base, ...f })) : [], checked: relevant };
  }
  const targets = context.stack.resources.filter((r) => rule.appliesTo.includes(ANY_RESOURCE) || rule.appliesTo.includes(r.selector));
  const findings = targets.flatMap((resource) => rule.check(resource, context).map((message) => ({ ...base, path: resource.path, address: resource.address, message })));
  return { findings, checked: targets.length };
}

/** Evaluates every rule against a synthesized stack. */
export function evaluate(stack: StackView, options: PolicyOptions = {}): PolicyReport {
  const context: PolicyContext = { mode: options.mode ?? "connected", stack, privateRegistries: options.privateRegistries ?? [] };
  const acks = options.acknowledgements ?? [];
  const violations: Finding[] = [];
  const acknowledged: Finding[] = [];
  const rules: RuleStatus[] = RULES.map((rule) => {
    const status = { id: rule.id, title: rule.title };
    if (!applies(rule, context)) return { ...status, status: "not-applicable" };
    const { findings, checked } = run(rule, context);
    if (checked === 0) return { ...status, status: "not-applicable" };
    let failed = false;
    for (const finding of findings) {
      const acknowledgement = acks.find((a) => a.rule === finding.rule && acknowledgementCovers(a, finding.path));
      if (acknowledgement) acknowledged.push({ ...finding, acknowledgement });
      else {
        violations.push(finding);
        failed = true;
      }
    }
    return { ...status, status: failed ? "fail" : findings.length ? "acknowledged" : "pass" };
  });
  return { stack: stack.name, mode: context.mode, rules, violations, acknowledged };
}

/** One line per violation: rule id, construct path, what is wrong, and the fix. */
export function formatViolation(f: Finding): string {
  return `${f.rule} ${f.path}${f.address ? ` (${f.address})` : ""}: ${f.message}. ${f.title}. Fix: ${f.fix}`;
}
