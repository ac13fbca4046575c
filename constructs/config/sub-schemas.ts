/**
 * Parts of the environment schema that constructs reuse when they are used without an environment
 * file, so a library caller gets the same defaults and checks. Taken from the schema itself, not copied.
 */
import { z } from "zod";
import { environmentSchema } from "./schema";

const shape = environmentSchema.innerType().shape;

export const gpuPoolSchema = shape.nodePools.shape.gpu.element;
export const systemPoolSchema = shape.nodePools.shape.system;
export const clusterSettingsSchema = shape.cluster;
export const ingressSettingsSchema = shape.ingress;

/** A GPU pool as construct props take it (schema input: defaults may be left out). */
export type GpuPoolInput = z.input<typeof gpuPoolSchema>;
/** The system pool as construct props take it (schema input: defaults may be left out). */
export type SystemPoolInput = z.input<typeof systemPoolSchema>;
