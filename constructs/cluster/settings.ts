/**
 * The cluster's settings schemas: the one definition of the node pools' and the EKS cluster's fields,
 * defaults and checks. GpuCluster parses its props with them; the app's environment file composes them.
 */
import { z } from "zod";
import { cidrsOverlap, parseCidr } from "../private/cidr";
import { cidrSchema, nameSchema, retentionDaysSchema } from "../private/validate";
import { describeShape, GPU_INSTANCE_TYPES, unknownGpuInstanceType } from "./gpu-instance-types";
import { DEFAULT_KUBERNETES_VERSION, EKS_ADDONS, EksAddonName } from "./versions";

/** Reports one problem at a path relative to the object checked; the environment schema and the constructs each turn it into their own error. */
export type Fail = (path: (string | number)[], message: string) => void;

const capacityType = z.enum(["ON_DEMAND", "SPOT"]);

const poolSize = {
  /** Smallest node count; 0 lets a GPU pool scale from zero. */
  minSize: z.number().int().min(0),
  maxSize: z.number().int().min(1, "a pool with max 0 can never run a pod: expected maxSize >= 1"),
  desiredSize: z.number().int().min(0).optional(),
};

/** A pool's sizes must nest: minSize <= desiredSize <= maxSize. */
function checkPoolSizes(pool: { minSize: number; maxSize: number; desiredSize?: number }, ctx: z.RefinementCtx): void {
  if (pool.maxSize < pool.minSize) ctx.addIssue({ code: "custom", path: ["maxSize"], message: `expected maxSize >= minSize (${pool.minSize})` });
  if (pool.desiredSize !== undefined && (pool.desiredSize < pool.minSize || pool.desiredSize > pool.maxSize)) {
    ctx.addIssue({ code: "custom", path: ["desiredSize"], message: `expected desiredSize between minSize (${pool.minSize}) and maxSize (${pool.maxSize})` });
  }
}

/** The Kubernetes minor version of a cluster we create; its default is the version table's (constructs/cluster/versions.ts). */
export const kubernetesVersionSchema = z.string().regex(/^1\.\d{2}$/, "expected a Kubernetes minor version like 1.35").default(DEFAULT_KUBERNETES_VERSION);

/**
 * A node group's AMI release version (`aws eks describe-nodegroup ... releaseVersion`): AL2023's
 * `<kubernetes patch>-<date>` (1.35.6-20260714) or Bottlerocket's `<os version>-<commit>` (1.41.0-8f5e6c0e).
 * Default: the version table's for the cluster's minor and the pool's AMI family.
 */
const amiReleaseVersionSchema = z
  .string()
  .regex(/^\d+\.\d+\.\d+-[0-9a-f]{8}$/, "expected an EKS AMI release version like 1.35.6-20260714 (AL2023) or 1.41.0-8f5e6c0e (Bottlerocket)")
  .optional();

/** The system (CPU) node pool; constructs parse their props with it, so library callers get the same defaults and checks. */
export const systemPoolSchema = z
  .object({
    instanceTypes: z.array(z.string().min(1)).min(1).default(["m6i.large"]),
    capacityType: capacityType.default("ON_DEMAND"),
    minSize: poolSize.minSize.default(2),
    maxSize: poolSize.maxSize.default(4),
    desiredSize: poolSize.desiredSize,
    diskSizeGiB: z.number().int().min(20).max(1000).default(50),
    amiReleaseVersion: amiReleaseVersionSchema,
  })
  .strict()
  .superRefine(checkPoolSizes);

/**
 * The Cluster Autoscaler builds one node template per pool, from its first instance type, to decide
 * whether a pending pod would fit a node it scales up from zero: every type of a pool must have that
 * shape (vCPUs, memory, GPUs), or it launches nodes that are not what it planned for.
 */
function checkPoolShape(pool: { instanceTypes: string[] }, ctx: z.RefinementCtx): void {
  const types = pool.instanceTypes.map((name, i) => {
    const type = GPU_INSTANCE_TYPES[name];
    if (!type) ctx.addIssue({ code: "custom", path: ["instanceTypes", i], message: `expected a supported GPU instance type: ${unknownGpuInstanceType(name)}` });
    return type;
  });
  const first = types[0];
  if (!first) return;
  types.forEach((type, i) => {
    if (!type || i === 0) return;
    const same = type.vcpus === first.vcpus && type.memoryGiB === first.memoryGiB && type.gpusPerNode === first.gpusPerNode && type.gpuModel === first.gpuModel && type.gpuMemoryGiB === first.gpuMemoryGiB;
    if (!same) {
      ctx.addIssue({
        code: "custom",
        path: ["instanceTypes", i],
        message: `expected the shape of ${pool.instanceTypes[0]} (${describeShape(first)}): the autoscaler sizes scale-from-zero nodes from a pool's first type, and ${pool.instanceTypes[i]} has ${describeShape(type)}; put it in a pool of its own`,
      });
    }
  });
}

/** One GPU node pool; shared by the environment file and the cluster constructs' props. */
export const gpuPoolSchema = z
  .object({
    name: nameSchema,
    instanceTypes: z.array(z.string().min(1)).min(1),
    capacityType: capacityType.default("ON_DEMAND"),
    ...poolSize,
    amiType: z.enum(["AL2023_x86_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA"]).default("AL2023_x86_64_NVIDIA"),
    diskSizeGiB: z.number().int().min(50).max(2000).default(200),
    amiReleaseVersion: amiReleaseVersionSchema,
    /** Tags on this pool's EKS node group, on top of the cluster's: set at creation, so nothing rewrites them afterwards (e.g. cost allocation). */
    tags: z.record(z.string().min(1), z.string()).optional(),
  })
  .strict()
  .superRefine(checkPoolSizes)
  .superRefine(checkPoolShape);

/** The GPU pools of a cluster: at least one, each name unique and not the system pool's. */
export const gpuPoolsSchema = z
  .array(gpuPoolSchema)
  .min(1, "expected at least one GPU pool")
  .superRefine((pools, ctx) => {
    const names = pools.map((p) => p.name);
    names.forEach((n, i) => {
      if (n === "system") ctx.addIssue({ code: "custom", path: [i, "name"], message: 'expected a name other than "system" (the CPU pool\'s)' });
      else if (names.indexOf(n) !== i) ctx.addIssue({ code: "custom", path: [i, "name"], message: `expected a unique pool name; "${n}" is used twice` });
    });
  });

/** EKS cluster settings; shared by the environment file and GpuCluster's props. */
export const clusterSettingsSchema = z
  .object({
    /** Public API endpoint: off unless explicitly enabled for named CIDRs. */
    publicEndpoint: z
      .object({ enabled: z.boolean().default(false), cidrs: z.array(cidrSchema).default([]) })
      .strict()
      .default({}),
    /**
     * IAM roles or users granted cluster-admin through EKS access entries: the principals that deploy
     * the workloads (the cluster creator gets no implicit admin). Append new ones: the first keeps the
     * access entry address `adminRoleArn` had.
     */
    adminPrincipalArns: z.array(z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/.+$/, "expected an IAM role or user ARN")).default([]),
    /** @deprecated One admin role; use adminPrincipalArns (it is their first entry when both are given). */
    adminRoleArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, "expected an IAM role ARN")
      .optional(),
    /**
     * Where operators (or CI runners) reach the private API endpoint from: 443 on the cluster security
     * group from these CIDRs (a VPN, a transit network) and security groups (a runner inside the VPC).
     */
    apiAccess: z
      .object({
        cidrs: z.array(cidrSchema).default([]),
        securityGroupIds: z.array(z.string().regex(/^sg-[0-9a-f]{8,17}$/, "expected a security group id like sg-0123456789abcdef0")).default([]),
      })
      .strict()
      .default({}),
    /**
     * An admin host in a private subnet, reached through Session Manager over the VPC's SSM endpoints
     * (no inbound port, no internet): a tunnel to the private API (SSM port forwarding) for networks with
     * no other route to it, such as air-gapped ones.
     */
    adminHost: z
      .object({ enabled: z.boolean().default(false), instanceType: z.string().regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "expected an EC2 instance type like t3.small").default("t3.small") })
      .strict()
      .default({}),
    /** Kubernetes service CIDR; must not overlap the VPC. */
    serviceCidr: cidrSchema.default("172.20.0.0/16"),
    logRetentionDays: retentionDaysSchema.default(365),
    /**
     * EKS's upgrade policy, set explicitly: STANDARD (EKS upgrades the control plane at the end of
     * standard support) or EXTENDED (it stays and EKS bills extended support). Synth refuses a version
     * out of standard support unless this says EXTENDED.
     */
    supportType: z.enum(["STANDARD", "EXTENDED"]).default("STANDARD"),
    /** EKS add-on versions by add-on name; each defaults to the version table's for the cluster's minor. */
    addonVersions: z
      .object(
        Object.fromEntries(EKS_ADDONS.map((name) => [name, z.string().regex(/^v\d+\.\d+\.\d+-eksbuild\.\d+$/, "expected an EKS add-on version like v1.21.1-eksbuild.3").optional()])) as Record<
          EksAddonName,
          z.ZodOptional<z.ZodString>
        >,
      )
      .strict()
      .default({}),
  })
  .strict()
  .superRefine((settings, ctx) => {
    const endpoint = settings.publicEndpoint;
    if (endpoint.enabled && endpoint.cidrs.length === 0) {
      ctx.addIssue({ code: "custom", path: ["publicEndpoint", "cidrs"], message: "expected at least one CIDR when the public endpoint is enabled (0.0.0.0/0 is refused)" });
    }
    endpoint.cidrs.forEach((c, i) => {
      if (parseCidr(c)?.prefix === 0) ctx.addIssue({ code: "custom", path: ["publicEndpoint", "cidrs", i], message: "expected a CIDR narrower than 0.0.0.0/0: it would open the API to the internet" });
    });
    settings.apiAccess.cidrs.forEach((c, i) => {
      if (parseCidr(c)?.prefix === 0) ctx.addIssue({ code: "custom", path: ["apiAccess", "cidrs", i], message: "expected the operators' network, narrower than 0.0.0.0/0" });
    });
  });

/** EKS cluster settings as props take them (defaults may be left out). */
export type ClusterSettingsInput = z.input<typeof clusterSettingsSchema>;
/** EKS cluster settings with defaults applied. */
export type ClusterSettings = z.output<typeof clusterSettingsSchema>;

/**
 * The checks that need the network too: no public endpoint in an air-gapped network, and a service
 * CIDR outside the VPC. The environment schema and GpuCluster both call this.
 */
export function checkClusterInNetwork(settings: ClusterSettings, network: { readonly vpcCidr: string; readonly mode: "connected" | "airgapped" }, fail: Fail): void {
  if (network.mode === "airgapped" && settings.publicEndpoint.enabled) {
    fail(["publicEndpoint", "enabled"], "expected false in airgapped mode: the network has no internet route");
  }
  const vpc = parseCidr(network.vpcCidr);
  const service = parseCidr(settings.serviceCidr);
  if (vpc && service && cidrsOverlap(vpc, service)) fail(["serviceCidr"], `expected a CIDR that does not overlap vpcCidr ${network.vpcCidr}`);
}

/** The cluster-admin principals, in access entry order: the deprecated adminRoleArn first, then adminPrincipalArns, without repeats. */
export function adminPrincipals(settings: Pick<ClusterSettings, "adminRoleArn" | "adminPrincipalArns">): string[] {
  return [...new Set([...(settings.adminRoleArn ? [settings.adminRoleArn] : []), ...settings.adminPrincipalArns])];
}

/**
 * What deploying Kubernetes objects through the API needs, checked wherever a workloads stack (or any
 * Kubernetes provider) will use the cluster: a named admin principal, and a network path to the
 * endpoint (public endpoint CIDRs, operator CIDRs or security groups, or the admin host).
 */
export function checkApiAccess(settings: ClusterSettings, fail: Fail): void {
  if (adminPrincipals(settings).length === 0) {
    fail(
      ["adminPrincipalArns"],
      "expected at least one IAM role or user ARN: the workloads are deployed through the Kubernetes API, and with creator bootstrap off nobody else is granted access to it",
    );
  }
  const { cidrs, securityGroupIds } = settings.apiAccess;
  if (!settings.publicEndpoint.enabled && cidrs.length === 0 && securityGroupIds.length === 0 && !settings.adminHost.enabled) {
    fail(
      ["apiAccess"],
      "expected cidrs or securityGroupIds that reach the private API endpoint (your VPN or transit network, a CI runner's security group), or adminHost.enabled (a Session Manager tunnel): the endpoint is private and its security group admits nobody else on 443",
    );
  }
}

/** A GPU node pool with defaults applied. */
export type GpuPoolConfig = z.output<typeof gpuPoolSchema>;
/** The system (CPU) node pool with defaults applied. */
export type SystemPoolConfig = z.output<typeof systemPoolSchema>;
/** A GPU pool as construct props take it (schema input: defaults may be left out). */
export type GpuPoolInput = z.input<typeof gpuPoolSchema>;
/** The system pool as construct props take it (schema input: defaults may be left out). */
export type SystemPoolInput = z.input<typeof systemPoolSchema>;
