import { z } from "zod";
import { parseCidr } from "./cidr";

/**
 * Parses construct props through a config sub-schema, so a library caller gets the same defaults and
 * checks as an environment file. `where` names the props (`GpuCluster x: systemPool`); ending it with
 * ":" makes the fields follow it as props of their own (`GpuCluster x: publicEndpoint.cidrs`).
 */
export function parseProps<S extends z.ZodTypeAny>(schema: S, value: unknown, where: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const field = issue.path.map((seg) => (typeof seg === "number" ? `[${seg}]` : `.${seg}`)).join("");
    const at = field && where.endsWith(":") ? `${where} ${field.replace(/^\./, "")}` : `${where}${field}`;
    const found = valueAt(value, issue.path);
    const shown = found === undefined || typeof found === "object" || issue.message.includes("found") ? "" : `, found ${JSON.stringify(found)}`;
    return `${at}: ${issue.message}${shown}`;
  });
  throw new Error(problems.join("\n"));
}

/** The value at a zod issue's path inside `value`; undefined where the path leaves the objects. */
export function valueAt(value: unknown, path: (string | number)[]): unknown {
  return path.reduce<unknown>((current, seg) => (current !== null && typeof current === "object" ? (current as Record<string | number, unknown>)[seg] : undefined), value);
}

/** An IPv4 CIDR with no host bits set; the one zod check every construct's props schema and the environment file share. */
export const cidrSchema = z.string().refine((value) => parseCidr(value) !== undefined, {
  message: "expected an IPv4 CIDR with no host bits set, like 10.20.0.0/16",
});

/** The retention periods CloudWatch Logs accepts; any other number would fail only at apply time. */
export const CLOUDWATCH_RETENTION_DAYS: readonly number[] = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/** Days of log retention that CloudWatch Logs accepts. */
export const retentionDaysSchema = z
  .number()
  .int()
  .refine((days) => CLOUDWATCH_RETENTION_DAYS.includes(days), {
    message: `expected one of CloudWatch Logs' retention periods (${CLOUDWATCH_RETENTION_DAYS.join(", ")})`,
  });

/** An environment's or a node pool's name: lowercase letters, digits and dashes, 2-24 characters (it prefixes AWS resource names). */
export const nameSchema = z.string().regex(/^[a-z][a-z0-9-]{1,23}$/, "expected lowercase letters, digits and dashes, 2-24 characters");

/** An IAM role or user ARN: what a resource policy can name as a principal (not the account root, not an assumed-role session). */
export const iamPrincipalArnSchema = z
  .string()
  .regex(/^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/[\w+=,.@/-]+$/, "expected an IAM role or user ARN like arn:aws:iam::111122223333:role/name");
