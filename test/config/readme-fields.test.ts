/** README's table of environment fields, checked against the schema it documents: every field listed, every listed field real. */
import * as fs from "fs";
import * as path from "path";
import { z } from "zod";
import { environmentSchema } from "../../app";

/** The object or element schema beneath defaults, optionals and refinements. */
function unwrap(schema: z.ZodTypeAny): z.ZodTypeAny {
  if (schema instanceof z.ZodDefault) return unwrap(schema._def.innerType);
  if (schema instanceof z.ZodOptional) return unwrap(schema._def.innerType);
  if (schema instanceof z.ZodEffects) return unwrap(schema._def.schema);
  return schema;
}

/** Resolves `nodePools.gpu[]` in the schema; undefined when a segment does not exist. */
function resolve(fieldPath: string): z.ZodTypeAny | undefined {
  let current: z.ZodTypeAny | undefined = unwrap(environmentSchema);
  for (const segment of fieldPath.split(".")) {
    const [key, ...arrays] = segment.split("[]");
    current = current instanceof z.ZodObject ? (current.shape as Record<string, z.ZodTypeAny>)[key] : undefined;
    if (!current) return undefined;
    current = unwrap(current);
    for (let i = 1; i < arrays.length + 1; i++) current = current instanceof z.ZodArray ? unwrap(current.element) : undefined;
    if (!current) return undefined;
  }
  return current;
}

const readme = fs.readFileSync(path.resolve(__dirname, "../../README.md"), "utf8");
const section = readme.slice(readme.indexOf("## Add an environment"), readme.indexOf("\n## ", readme.indexOf("## Add an environment") + 1));
const rows = section.split("\n").filter((line) => line.startsWith("| `"));
const listed = rows.flatMap((row) => [...row.split("|")[1].matchAll(/`([^`]+)`/g)].map((m) => m[1]));

test("the table lists fields", () => {
  expect(rows.length).toBeGreaterThan(10);
});

test("every top-level field of the environment schema is in the README's table", () => {
  const topLevel = Object.keys((unwrap(environmentSchema) as z.AnyZodObject).shape);
  const covered = new Set(listed.map((field) => field.split(/[.[]/)[0]));
  expect(topLevel.filter((key) => !covered.has(key))).toEqual([]);
});

test("every field the table names exists in the schema", () => {
  expect(listed.filter((field) => resolve(field) === undefined)).toEqual([]);
});
