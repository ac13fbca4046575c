/**
 * The cluster's settings schemas: the one definition of the node pools' and the EKS cluster's fields,
 * defaults and checks. GpuCluster parses its props with them; the app's environment file composes them.
 */
import { z } from "zod";
import { cidrSchema, nameSchema, retentionDaysSchema } from "../shared/validate";

const capacityType = z.enum(["ON_DEMAND", "SPOT"]);

const poolSize = {
  /** Smallest node count; 0 lets a GPU pool scale from zero. */
  minSize: z.number().int().min(0),
  maxSize: z.number().int().min(1, "a pool with max 0 can never run a pod: expected maxSize >= 1"),
  desiredSize: z.number().int().min(0).optional(),
};

/** The system (CPU) node pool; constructs parse their props with it, so library callers get the same defaults and checks. */
export const systemPoolSchema = z
  .object({
    instanceTypes: z.array(z.string().min(1)).min(1).default(["m6i.large"]),
    capacityType: capacityType.default("ON_DEMAND"),
    minSize: poolSize.minSize.default(2),
    maxSize: poolSize.maxSize.default(4),
    desiredSize: poolSize.desiredSize,
    diskSizeGiB: z.number().int().min(20).max(1000).default(50),
  })
  .strict();

/** One GPU node pool; shared by the environment file and the cluster constructs' props. */
export const gpuPoolSchema = z
  .object({
    name: nameSchema,
    instanceTypes: z.array(z.string().min(1)).min(1),
    capacityType: capacityType.default("ON_DEMAND"),
    ...poolSize,
    amiType: z.enum(["AL2023_x86_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA"]).default("AL2023_x86_64_NVIDIA"),
    diskSizeGiB: z.number().int().min(50).max(2000).default(200),
  })
  .strict();

/** EKS cluster settings; shared by the environment file and GpuCluster's props. */
export const clusterSettingsSchema = z
  .object({
    /** Public API endpoint: off unless explicitly enabled for named CIDRs. */
    publicEndpoint: z
      .object({ enabled: z.boolean().default(false), cidrs: z.array(cidrSchema).default([]) })
      .strict()
      .default({}),
    /** IAM role granted cluster-admin through an EKS access entry. */
    adminRoleArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, "expected an IAM role ARN")
      .optional(),
    /** Kubernetes service CIDR; must not overlap the VPC. */
    serviceCidr: cidrSchema.default("172.20.0.0/16"),
    logRetentionDays: retentionDaysSchema.default(365),
  })
  .strict();

/** A GPU node pool with defaults applied. */
export type GpuPoolConfig = z.output<typeof gpuPoolSchema>;
/** The system (CPU) node pool with defaults applied. */
export type SystemPoolConfig = z.output<typeof systemPoolSchema>;
/** A GPU pool as construct props take it (schema input: defaults may be left out). */
export type GpuPoolInput = z.input<typeof gpuPoolSchema>;
/** The system pool as construct props take it (schema input: defaults may be left out). */
export type SystemPoolInput = z.input<typeof systemPoolSchema>;
