/**
 * The environment file schema: the single source of truth for what an environment may say.
 * Types are inferred from it; defaults are the secure, production-minded choice.
 */
import { z } from "zod";
import { cidrsOverlap, parseCidr } from "./cidr";
import { AWS_AZ_PATTERN, AWS_REGION_PATTERN } from "./regions";
// Deep paths, not the policy index: the rules need only config/names, so there is no import cycle.
import { MIN_REASON_LENGTH } from "../policy/engine";
import { RULES } from "../policy/rules";
import { checkWorkloadPools, workloadsSettingsSchema } from "../workloads/settings";

const cidr = z
  .string()
  .refine((value) => parseCidr(value) !== undefined, {
    message: "expected an IPv4 CIDR with no host bits set, like 10.20.0.0/16",
  });

const name = z.string().regex(/^[a-z][a-z0-9-]{1,23}$/, "expected lowercase letters, digits and dashes, 2-24 characters");

const capacityType = z.enum(["ON_DEMAND", "SPOT"]);

/** The retention periods CloudWatch Logs accepts; any other number would fail only at apply time. */
export const CLOUDWATCH_RETENTION_DAYS: readonly number[] = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

const retentionDays = z
  .number()
  .int()
  .refine((days) => CLOUDWATCH_RETENTION_DAYS.includes(days), {
    message: `expected one of CloudWatch Logs' retention periods (${CLOUDWATCH_RETENTION_DAYS.join(", ")})`,
  });

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
    name,
    instanceTypes: z.array(z.string().min(1)).min(1),
    capacityType: capacityType.default("ON_DEMAND"),
    ...poolSize,
    amiType: z.enum(["AL2023_x86_64_NVIDIA", "BOTTLEROCKET_x86_64_NVIDIA"]).default("AL2023_x86_64_NVIDIA"),
    diskSizeGiB: z.number().int().min(50).max(2000).default(200),
  })
  .strict();

const stateBackend = z.discriminatedUnion("type", [
  z.object({ type: z.literal("local"), path: z.string().min(1).optional() }).strict(),
  z
    .object({
      type: z.literal("s3"),
      bucket: z.string().min(3),
      /** Key prefix: each stack's state lives at `<key>/<stack>.tfstate`. */
      key: z.string().min(1),
      region: z.string().min(1),
      /** S3-native locking (Terraform >= 1.10); a DynamoDB table is the older alternative. */
      useLockfile: z.boolean().default(true),
      dynamodbTable: z.string().min(1).optional(),
      kmsKeyId: z.string().min(1).optional(),
    })
    .strict(),
]);

/** EKS cluster settings; shared by the environment file and GpuCluster's props. */
export const clusterSettingsSchema = z
  .object({
    /** Public API endpoint: off unless explicitly enabled for named CIDRs. */
    publicEndpoint: z
      .object({ enabled: z.boolean().default(false), cidrs: z.array(cidr).default([]) })
      .strict()
      .default({}),
    /** IAM role granted cluster-admin through an EKS access entry. */
    adminRoleArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, "expected an IAM role ARN")
      .optional(),
    /** Kubernetes service CIDR; must not overlap the VPC. */
    serviceCidr: cidr.default("172.20.0.0/16"),
    logRetentionDays: retentionDays.default(365),
  })
  .strict();

const ingress = z
  .object({
    /** ACM certificate for the TLS listener. Required unless plainTcp is set. */
    certificateArn: z.string().regex(/^arn:aws[a-z-]*:acm:/, "expected an ACM certificate ARN").optional(),
    /** Plain TCP instead of TLS: only for environments that say so explicitly (e.g. dev). */
    plainTcp: z.boolean().default(false),
    port: z.number().int().min(1).max(65535).default(443),
    /** Listener port of the TTS Service when STT and TTS run apart (workloads.split); STT keeps `port`. An NLB routes by port only. */
    ttsPort: z.number().int().min(1).max(65535).default(8443),
  })
  .strict();

export const environmentSchema = z
  .object({
    name,
    region: z.string().regex(AWS_REGION_PATTERN, "expected an AWS region like eu-west-1"),
    availabilityZones: z.array(z.string().regex(AWS_AZ_PATTERN, "expected an AZ like eu-west-1a")).min(2).max(3),
    vpcCidr: cidr,
    mode: z.enum(["connected", "airgapped"]),
    /** NAT gateways in connected mode: one per AZ (prod) or a single one (dev, to save cost). */
    natGateways: z.enum(["perAz", "single"]).default("perAz"),
    kubernetesVersion: z.string().regex(/^1\.\d{2}$/, "expected a Kubernetes minor version like 1.31").default("1.31"),
    nodePools: z.object({ system: systemPoolSchema.default({}), gpu: z.array(gpuPoolSchema).min(1) }).strict(),
    license: z
      .object({
        mode: z.enum(["online", "offline"]),
        serverUrl: z.string().url().startsWith("https://", "expected an https:// URL").optional(),
        /** CIDRs the license proxy may reach on 443 (the license server) in online mode. */
        serverCidrs: z.array(cidr).default([]),
      })
      .strict(),
    allowedClientCidrs: z.array(cidr).min(1),
    cluster: clusterSettingsSchema.default({}),
    ingress: ingress.default({}),
    /** Keep the load balancer and stateful resources from being deleted by accident. */
    deletionProtection: z.boolean().default(true),
    flowLogRetentionDays: retentionDays.default(365),
    tags: z.record(z.string().min(1).max(128), z.string().max(256)).default({}),
    stateBackend: stateBackend.default({ type: "local" }),
    /** Policy exceptions: each lets one rule fail for the named resources, with a reason the review report shows. */
    policy: z
      .object({
        acknowledgements: z
          .array(
            z
              .object({
                rule: z.string().refine((id) => RULES.some((r) => r.id === id), { message: "expected a policy rule id such as VS-EKS-001 (see constructs/policy/rules)" }),
                /** Construct path (that construct and everything under it) or glob, e.g. "prod-infra/cluster/**". */
                resource: z.string().min(1),
                reason: z.string().trim().min(MIN_REASON_LENGTH, `expected a reason of at least ${MIN_REASON_LENGTH} characters a reviewer can judge`),
              })
              .strict(),
          )
          .default([]),
      })
      .strict()
      .default({}),
    /** The Kubernetes workloads of `<env>-workloads` (constructs/workloads/settings.ts). */
    workloads: workloadsSettingsSchema.default({}),
  })
  .strict()
  .superRefine((env, ctx) => {
    const fail = (path: (string | number)[], message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, path, message });

    env.availabilityZones.forEach((az, i) => {
      if (!az.startsWith(env.region)) fail(["availabilityZones", i], `expected an AZ in region ${env.region}`);
    });
    if (new Set(env.availabilityZones).size !== env.availabilityZones.length) {
      fail(["availabilityZones"], "expected distinct availability zones");
    }

    const vpc = parseCidr(env.vpcCidr);
    if (vpc && (vpc.prefix < 16 || vpc.prefix > 22)) fail(["vpcCidr"], "expected a prefix between /16 and /22");
    const service = parseCidr(env.cluster.serviceCidr);
    if (vpc && service && cidrsOverlap(vpc, service)) {
      fail(["cluster", "serviceCidr"], `expected a CIDR that does not overlap vpcCidr ${env.vpcCidr}`);
    }

    env.allowedClientCidrs.forEach((c, i) => {
      if (parseCidr(c)?.prefix === 0) fail(["allowedClientCidrs", i], "expected a CIDR narrower than 0.0.0.0/0");
    });

    const pools = [["system"], ...env.nodePools.gpu.map((_, i) => ["gpu", i])] as (string | number)[][];
    for (const path of pools) {
      const pool = path[0] === "system" ? env.nodePools.system : env.nodePools.gpu[path[1] as number];
      if (pool.maxSize < pool.minSize) fail(["nodePools", ...path, "maxSize"], `expected maxSize >= minSize (${pool.minSize})`);
      if (pool.desiredSize !== undefined && (pool.desiredSize < pool.minSize || pool.desiredSize > pool.maxSize)) {
        fail(["nodePools", ...path, "desiredSize"], `expected desiredSize between minSize (${pool.minSize}) and maxSize (${pool.maxSize})`);
      }
    }
    const poolNames = env.nodePools.gpu.map((p) => p.name);
    poolNames.forEach((n, i) => {
      if (poolNames.indexOf(n) !== i) fail(["nodePools", "gpu", i, "name"], `expected a unique pool name; "${n}" is used twice`);
    });

    if (env.mode === "airgapped") {
      if (env.license.mode !== "offline") {
        fail(["license", "mode"], 'expected "offline" in airgapped mode: there is no route to a license server');
      }
      if (env.cluster.publicEndpoint.enabled) fail(["cluster", "publicEndpoint", "enabled"], "expected false in airgapped mode");
    }
    if (env.license.mode === "online") {
      if (!env.license.serverUrl) fail(["license", "serverUrl"], "expected the license server URL in online mode");
      if (env.license.serverCidrs.length === 0) {
        fail(["license", "serverCidrs"], "expected the license server's CIDRs in online mode (the proxy's only egress)");
      }
    }

    const endpoint = env.cluster.publicEndpoint;
    if (endpoint.enabled && endpoint.cidrs.length === 0) {
      fail(["cluster", "publicEndpoint", "cidrs"], "expected at least one CIDR when the public endpoint is enabled");
    }
    endpoint.cidrs.forEach((c, i) => {
      if (parseCidr(c)?.prefix === 0) fail(["cluster", "publicEndpoint", "cidrs", i], "expected a CIDR narrower than 0.0.0.0/0");
    });

    if (!env.ingress.plainTcp && !env.ingress.certificateArn) {
      fail(["ingress", "certificateArn"], "expected an ACM certificate ARN (or ingress.plainTcp: true, for dev only)");
    }
    if (env.stateBackend.type === "s3" && env.stateBackend.dynamodbTable && env.stateBackend.useLockfile) {
      fail(["stateBackend", "dynamodbTable"], "expected either useLockfile or dynamodbTable, not both");
    }
    if (env.workloads.split && env.ingress.ttsPort === env.ingress.port) {
      fail(["ingress", "ttsPort"], `expected a port other than ingress.port (${env.ingress.port}): with workloads.split, STT and TTS each need a listener`);
    }
    checkWorkloadPools(env.workloads, env.nodePools.gpu, fail);
  });

/** A validated environment, with defaults applied. */
export type EnvironmentConfig = z.output<typeof environmentSchema>;
/** What an environment file may contain (defaults not yet applied). */
export type EnvironmentInput = z.input<typeof environmentSchema>;
/** A GPU node pool as an environment file declares it, with defaults applied. */
export type GpuPoolConfig = EnvironmentConfig["nodePools"]["gpu"][number];
/** The system (CPU) node pool as an environment file declares it, with defaults applied. */
export type SystemPoolConfig = EnvironmentConfig["nodePools"]["system"];
/** A GPU pool as construct props take it (schema input: defaults may be left out). */
export type GpuPoolInput = z.input<typeof gpuPoolSchema>;
/** The system pool as construct props take it (schema input: defaults may be left out). */
export type SystemPoolInput = z.input<typeof systemPoolSchema>;
