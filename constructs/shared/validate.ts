import { z } from "zod";

/** Parses construct props through a config sub-schema, so a library caller gets the same defaults and checks as an environment file. */
export function parseProps<S extends z.ZodTypeAny>(schema: S, value: unknown, where: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const field = issue.path.length > 0 ? `${where}.${issue.path.join(".")}` : where;
    return `${field}: ${issue.message}`;
  });
  throw new Error(problems.join("\n"));
}
