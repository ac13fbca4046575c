import { Fn, Token } from "cdktf";

/**
 * The account, region and partition of whatever an ARN names, as Terraform expressions. Reading them
 * from a resource we create avoids `aws_caller_identity`/`aws_region` data sources, so `terraform plan`
 * runs with no credentials. Pick an ARN that has the part (IAM ARNs have no region).
 */
export function arnParts(arn: string): { readonly partition: string; readonly region: string; readonly account: string } {
  const part = (index: number) => Fn.element(Fn.split(":", arn), index);
  return { partition: part(1), region: part(3), account: part(4) };
}

/** One IAM policy statement; values may hold Terraform references. */
export interface PolicyStatement {
  readonly Sid: string;
  readonly Effect: "Allow" | "Deny";
  readonly Principal?: unknown;
  readonly Action: string | string[];
  /** Omitted only in trust policies. */
  readonly Resource?: string | string[];
  readonly Condition?: Record<string, Record<string, unknown>>;
}

/**
 * The policy as JSON text in which Terraform references become `${...}` interpolations, resolved at
 * plan time (the provider checks the result is valid JSON). Not `Fn.jsonencode`: cdktf resolves a
 * jsonencode argument once per nesting level, which made policies about half of all synth time.
 * References must render without quotes or backslashes (ARNs, ids, names do). A document holding
 * literal template syntax (an IAM variable such as `${aws:username}`) or a non-string token takes
 * `Fn.jsonencode`, which escapes and encodes those.
 */
export function policyDocument(statements: readonly PolicyStatement[]): string {
  const document = { Version: "2012-10-17", Statement: statements };
  return plainStringsOnly(document) ? JSON.stringify(document) : Fn.jsonencode(document);
}

/** cdktf encodes a string reference as `${TfToken[TOKEN.n]}`; any other `${` or `%{` is template syntax Terraform would expand. */
const LITERAL_TEMPLATE = /\$\{(?!TfToken\[TOKEN\.\d+\]\})|%\{/;

function plainStringsOnly(value: unknown): boolean {
  if (typeof value === "string") return !LITERAL_TEMPLATE.test(value);
  if (Token.isUnresolved(value)) return false;
  if (Array.isArray(value)) return value.every(plainStringsOnly);
  if (value !== null && typeof value === "object") return Object.values(value).every(plainStringsOnly);
  return true;
}

/** A role trust policy for one AWS service principal; `condition` narrows it (a confused-deputy guard). */
export function trustPolicy(service: string, actions: string[] = ["sts:AssumeRole"], condition?: PolicyStatement["Condition"]): string {
  return policyDocument([{ Sid: "ServiceAssumesRole", Effect: "Allow", Principal: { Service: service }, Action: actions, ...(condition ? { Condition: condition } : {}) }]);
}

/** An AWS managed policy ARN in the partition of `anyArn`. */
export function managedPolicyArn(anyArn: string, name: string): string {
  return `arn:${arnParts(anyArn).partition}:iam::aws:policy/${name}`;
}
