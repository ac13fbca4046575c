/** Reading IAM policy documents (trust, key, endpoint and repository policies) out of a synthesized stack. */
import { blocks, StackView } from "./stack-view";

/** One statement as written, with its lists normalized. */
export interface StatementView {
  readonly sid?: string;
  readonly effect: "Allow" | "Deny";
  /** `*` for `"Principal": "*"` or `{"AWS": "*"}`; otherwise the AWS principals named. */
  readonly awsPrincipals: readonly string[];
  readonly servicePrincipals: readonly string[];
  readonly actions: readonly string[];
  readonly resources: readonly string[];
  readonly conditions: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;
}

const LOCAL_REFERENCE = /^\$\{local\.([^}]+)\}$/;

function list(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

/**
 * The statements of a policy: JSON text, or a `${local.name}` reference to a local holding it (how
 * one document shared by many resources is written). Undefined when the policy is absent; an error
 * message when it is not literal JSON (a `jsonencode(...)` expression, say), which a rule cannot read.
 */
export function readPolicy(value: unknown, stack: StackView): StatementView[] | { readonly error: string } | undefined {
  if (value === undefined || value === null) return undefined;
  const local = typeof value === "string" ? LOCAL_REFERENCE.exec(value) : null;
  const text: unknown = local ? (stack.document.locals as Record<string, unknown> | undefined)?.[local[1]] : value;
  if (typeof text !== "string") return { error: "the policy is not a JSON document the check can read" };
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return { error: "the policy is not literal JSON (an expression such as jsonencode), so the check cannot read it; write it as JSON text" };
  }
  return blocks((document as { Statement?: unknown }).Statement).map((s) => {
    const principal = s.Principal;
    const aws = principal === "*" ? ["*"] : list((principal as { AWS?: unknown } | undefined)?.AWS);
    const conditions: Record<string, Record<string, string[]>> = {};
    for (const [operator, keys] of Object.entries((s.Condition as Record<string, Record<string, unknown>> | undefined) ?? {})) {
      conditions[operator] = Object.fromEntries(Object.entries(keys ?? {}).map(([key, v]) => [key, list(v)]));
    }
    return {
      sid: typeof s.Sid === "string" ? s.Sid : undefined,
      effect: s.Effect === "Deny" ? "Deny" : "Allow",
      awsPrincipals: aws,
      servicePrincipals: list((principal as { Service?: unknown } | undefined)?.Service),
      actions: list(s.Action),
      resources: list(s.Resource),
      conditions,
    };
  });
}

/** True when the action pattern `pattern` (`kms:*`, `kms:Decrypt*`, `*`) covers `action`; case-insensitive as IAM is. */
export function actionCovers(pattern: string, action: string): boolean {
  const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i");
  return regex.test(action);
}

/** True when any of the statement's actions covers `action`. */
export function grants(statement: StatementView, action: string): boolean {
  return statement.actions.some((pattern) => actionCovers(pattern, action));
}

/** The values a statement's condition gives `key` under any of `operators`. */
export function conditionValues(statement: StatementView, operators: readonly string[], key: string): string[] {
  return operators.flatMap((op) => Object.entries(statement.conditions[op] ?? {}).filter(([k]) => k.toLowerCase() === key.toLowerCase()).flatMap(([, v]) => v));
}

/** A statement that allows everything to everyone with no condition: AWS's default endpoint policy. */
export function allowsEverything(statement: StatementView): boolean {
  return (
    statement.effect === "Allow" &&
    statement.awsPrincipals.includes("*") &&
    statement.actions.includes("*") &&
    (statement.resources.length === 0 || statement.resources.includes("*")) &&
    Object.keys(statement.conditions).length === 0
  );
}
