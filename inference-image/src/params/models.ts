/**
 * The `model` parameter every route family takes. Which names it accepts is the deployment's (server/models.ts
 * resolves them and the OpenAPI document lists them); the registry says which kind of model a field names.
 */
import { z } from "zod/v4";

export const modelFields = z.registry<{ kind: "stt" | "tts" }>();

export function modelField(kind: "stt" | "tts", description: string) {
  const field = z.string().optional().meta({ description });
  modelFields.add(field, { kind });
  return field;
}
