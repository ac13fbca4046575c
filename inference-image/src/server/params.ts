/**
 * Parameters in, typed objects out: a route's schema (src/params/) applied to its query, form or JSON body. A refusal
 * names the parameter and what was expected, read from the same JSON Schema the OpenAPI document publishes, and
 * carries the code the route family's clients know (invalid_parameter unless the field says otherwise).
 */
import { z } from "zod/v4";
import { errorCodes } from "../params/fields";
import { HttpError } from "../shared/http";

type Json = Record<string, unknown>;

/** A parameter's JSON Schema as the OpenAPI document shows it: the value it takes once read (io "output"). */
export function jsonSchemaOf(schema: z.ZodType): Json {
  const { $schema: _, ...json } = z.toJSONSchema(schema, { io: "output", unrepresentable: "any" }) as Json;
  return json;
}

const objectSchemas = new WeakMap<z.ZodType, Json>();
function objectJson(schema: z.ZodType): Json {
  let json = objectSchemas.get(schema);
  if (!json) objectSchemas.set(schema, (json = jsonSchemaOf(schema)));
  return json;
}

/** The JSON Schema at `path` inside an object's (through optional and nullable wrappers), if there is one. */
function schemaAt(json: Json | undefined, path: PropertyKey[]): Json | undefined {
  let at = json;
  for (const key of path) {
    if (!at) return undefined;
    const object = at.properties ? at : ((at.anyOf as Json[] | undefined) ?? []).find((s) => s.properties);
    const items = at.items as Json | undefined;
    at = typeof key === "number" ? items : ((object?.properties as Json | undefined)?.[String(key)] as Json | undefined);
  }
  return at;
}

/** What a JSON Schema accepts, in words: "an integer from 0 to 60000 or false". */
export function expected(s: Json): string {
  if (Array.isArray(s.anyOf)) return (s.anyOf as Json[]).map(expected).join(" or ");
  if ("const" in s) return JSON.stringify(s.const);
  if (Array.isArray(s.enum)) return `one of ${(s.enum as unknown[]).join(", ")}`;
  const range = (what: string) => {
    if (s.minimum !== undefined && s.maximum !== undefined) return `${what} from ${s.minimum} to ${s.maximum}`;
    if (s.minimum !== undefined) return `${what} of at least ${s.minimum}`;
    if (s.maximum !== undefined) return `${what} of at most ${s.maximum}`;
    return what;
  };
  switch (s.type) {
    case "integer":
      return range("an integer");
    case "number":
      return range("a number");
    case "boolean":
      return "true or false";
    case "string":
      return (s.minLength as number) > 0 ? "a non-empty string" : "a string";
    case "array":
      return s.items ? `a list, each ${expected(s.items as Json)}` : "a list";
    case "object":
      return "an object";
    case "null":
      return "null";
    default:
      return "a valid value";
  }
}

export interface ParamIssue {
  /** The parameter's path, dotted: "endpointing", "session.turn_detection.silence_duration_ms". */
  param: string;
  message: string;
  code: string;
}

/** The field schema at `path` (for its error code), through the wrappers zod puts around it. */
function fieldAt(schema: z.ZodType, path: PropertyKey[]): z.ZodType | undefined {
  let at: z.ZodType | undefined = schema;
  for (const key of path) {
    const shape: Record<string, z.ZodType> | undefined = (at as unknown as { shape?: Record<string, z.ZodType> } | undefined)?.shape;
    at = shape?.[String(key)];
  }
  return at;
}

export type Parsed<S extends z.ZodType> = { ok: true; value: z.output<S> } | { ok: false; issue: ParamIssue };

/** Apply `schema`; the first problem, if any, as a ParamIssue. */
export function parseParams<S extends z.ZodType>(schema: S, input: unknown): Parsed<S> {
  const json = objectJson(schema);
  const result = schema.safeParse(input, {
    // Fields that say nothing of their own: "<param> must be <what the document says it takes>".
    error: (issue) => {
      const at = schemaAt(json, issue.path ?? []);
      const name = (issue.path ?? []).join(".");
      return at && name ? `${name} must be ${expected(at)}` : undefined;
    },
  });
  if (result.success) return { ok: true, value: result.data };
  const first = result.error.issues[0];
  const field = fieldAt(schema, first.path.slice(0, 1));
  return { ok: false, issue: { param: first.path.join("."), message: first.message, code: (field && errorCodes.get(field)?.code) ?? "invalid_parameter" } };
}

/** Apply `schema` to request parameters; a refusal is a 400 naming the parameter. */
export function requireParams<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = parseParams(schema, input);
  if (!parsed.ok) throw new HttpError(400, parsed.issue.code, parsed.issue.message);
  return parsed.value;
}

/**
 * A query string or form as the object a schema reads: the first value of each name, or every value for a field
 * the schema declares as a list (OpenAI's `name[]` fields take `name` too).
 */
export function paramsObject(schema: z.ZodType, entries: Iterable<[string, string]>): Record<string, unknown> {
  const properties = (objectJson(schema).properties ?? {}) as Record<string, Json>;
  const out: Record<string, unknown> = {};
  for (const [name, value] of entries) {
    const list = properties[name]?.type === "array" ? name : properties[`${name}[]`]?.type === "array" ? `${name}[]` : undefined;
    if (list) ((out[list] ??= []) as unknown[]).push(value);
    else if (!(name in out)) out[name] = value;
  }
  return out;
}
