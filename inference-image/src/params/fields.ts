/**
 * The vocabulary the parameter schemas are written in (zod 4, as the zod package ships it under "zod/v4": its own
 * JSON Schema generator documents them, see server/openapi.ts). Query strings and form fields arrive as text:
 * these fields read the text as the value they declare (a boolean, an integer), so the declared and documented
 * type is the value's. Each field states its type, bounds, default and description once.
 */
import { z } from "zod/v4";

/**
 * The error code a refused parameter is answered with, where its clients know one (Deepgram's
 * UNSUPPORTED_ENCODING, OpenAI's unsupported_response_format); the rest are invalid_parameter.
 */
export const errorCodes = z.registry<{ code: string }>();

export function withCode<T extends z.ZodType>(schema: T, code: string): T {
  errorCodes.add(schema, { code });
  return schema;
}

const asBoolean = (v: unknown) => (v === "true" ? true : v === "false" ? false : v);
const asNumber = (v: unknown) => (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v)) ? Number(v) : v);

/** A boolean given as "true" or "false". */
export const flag = (def: boolean, description: string) => z.preprocess(asBoolean, z.boolean()).default(def).meta({ description });

/** An integer given in decimal. */
export const integer = (min: number, max: number, description: string) => z.preprocess(asNumber, z.number().int().min(min).max(max)).meta({ description });

/** A number given in decimal (JSON bodies give it as a number). */
export const number = (min: number, max: number, description: string) => z.preprocess(asNumber, z.number().min(min).max(max)).meta({ description });

/** An integer, or false ("false"; "true" means `whenTrue`), as Deepgram's endpointing takes. */
export const integerOrFalse = (min: number, max: number, whenTrue: number, description: string) =>
  z.preprocess((v) => (v === "true" ? whenTrue : asBoolean(asNumber(v))), z.union([z.number().int().min(min).max(max), z.literal(false)])).meta({ description });

/** Optional text; an empty value counts as absent (forms send empty fields). */
export const text = (description: string) => z.preprocess((v) => (v === "" ? undefined : v), z.string().optional()).meta({ description });

/** A parameter this server refuses whatever its value, saying why. */
export const refused = (why: string) => z.never({ error: why }).optional().meta({ description: `Refused: ${why}` });
