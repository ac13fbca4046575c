/** Reads environment files and turns every problem into a message that names the file, the field and the fix. */
import * as fs from "fs";
import * as path from "path";
import { z } from "zod";
import { cidrsOverlap, parseCidr } from "../constructs/private/cidr";
import { valueAt } from "../constructs/private/validate";
import { EnvironmentConfig, environmentSchema } from "./environment-schema";

/** One or more environment files are invalid; `message` lists every problem, one per line. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid environment configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Validates one parsed environment document; `file` is used only in messages. */
export function parseEnvironment(document: unknown, file: string): EnvironmentConfig {
  const result = environmentSchema.safeParse(document);
  if (result.success) return result.data;
  throw new ConfigError(result.error.issues.map((issue) => describeIssue(issue, document, file)));
}

/** Reads and validates one environment file (JSON). */
export function loadEnvironmentFile(file: string): EnvironmentConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError([`${file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`${file}: expected valid JSON, found a syntax error: ${(err as Error).message}`]);
  }
  const env = parseEnvironment(document, file);
  const stem = path.basename(file, ".json");
  if (env.name !== stem) {
    throw new ConfigError([`${file}: field "name": expected "${stem}" (the file name), found "${env.name}"`]);
  }
  return env;
}

/**
 * Loads every `*.json` in a directory. Errors from all files are collected, so one run shows every
 * problem; VPC CIDRs must not overlap across environments, so they can share a transit network.
 */
export function loadEnvironments(dir: string): EnvironmentConfig[] {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => path.join(dir, f));
  if (files.length === 0) throw new ConfigError([`${dir}: expected at least one environment file (*.json), found none`]);

  const problems: string[] = [];
  const loaded: { file: string; env: EnvironmentConfig }[] = [];
  for (const file of files) {
    try {
      loaded.push({ file, env: loadEnvironmentFile(file) });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  }
  loaded.forEach((a, i) => {
    for (const b of loaded.slice(i + 1)) {
      if (cidrsOverlap(parseCidr(a.env.vpcCidr)!, parseCidr(b.env.vpcCidr)!)) {
        problems.push(`${b.file}: field "vpcCidr": expected a CIDR that does not overlap ${a.file} (${a.env.vpcCidr}), found ${b.env.vpcCidr}`);
      }
    }
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return loaded.map((l) => l.env);
}

function describeIssue(issue: z.ZodIssue, document: unknown, file: string): string {
  const field = issue.path.length > 0 ? formatPath(issue.path) : "(top level)";
  if (issue.code === z.ZodIssueCode.unrecognized_keys) {
    return `${file}: field "${field}": unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(", ")}; expected only the documented keys (typo?)`;
  }
  return `${file}: field "${field}": ${expectation(issue)}, found ${describeValue(valueAt(document, issue.path))}`;
}

/** zod's own wording for the built-in checks, rephrased as "expected ...". */
function expectation(issue: z.ZodIssue): string {
  if (issue.message.includes("expected")) return issue.message; // our own wording, from the schema
  switch (issue.code) {
    case z.ZodIssueCode.invalid_type:
      return `expected ${issue.expected}`;
    case z.ZodIssueCode.invalid_enum_value:
      return `expected one of ${issue.options.map((o) => JSON.stringify(o)).join(", ")}`;
    case z.ZodIssueCode.invalid_union_discriminator:
      return `expected one of ${issue.options.map((o) => JSON.stringify(o)).join(", ")}`;
    case z.ZodIssueCode.too_small:
      return issue.type === "array" ? `expected at least ${issue.minimum} item(s)` : issue.type === "number" ? `expected a number >= ${issue.minimum}` : lowerFirst(issue.message);
    case z.ZodIssueCode.too_big:
      return issue.type === "array" ? `expected at most ${issue.maximum} item(s)` : issue.type === "number" ? `expected a number <= ${issue.maximum}` : lowerFirst(issue.message);
    default:
      return lowerFirst(issue.message);
  }
}

function lowerFirst(message: string): string {
  return `expected: ${message.charAt(0).toLowerCase()}${message.slice(1)}`;
}

function formatPath(p: (string | number)[]): string {
  return p.map((seg, i) => (typeof seg === "number" ? `[${seg}]` : i === 0 ? seg : `.${seg}`)).join("");
}

function describeValue(value: unknown): string {
  if (value === undefined) return "nothing (missing)";
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
