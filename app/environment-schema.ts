/**
 * The app's environment file schema: what an environment may say. It composes the constructs'
 * own settings schemas (constructs/<folder>/settings.ts) and adds the cross-field checks of one file.
 * Types are inferred from it; defaults are the secure, production-minded choice.
 */
import { z } from "zod";
import { checkClusterInNetwork, clusterSettingsSchema, gpuPoolsSchema, kubernetesVersionSchema, systemPoolSchema } from "../constructs/cluster/settings";
import { acknowledgementSchema } from "../constructs/policy/engine";
import { AWS_AZ_PATTERN, AWS_REGION_PATTERN } from "../constructs/private/regions";
import { allowedClientCidrsSchema, checkCertificateRegion, checkListener, listenerSettingsShape } from "../constructs/ingress/settings";
import { parseCidr } from "../constructs/private/cidr";
import { clientSources } from "../constructs/shared/load-balancer-forwarding";
import { flowLogRetentionDaysSchema, natGatewaysSchema, networkModeSchema, perimeterSchema, vpcCidrSchema } from "../constructs/network/settings";
import { registrySettingsSchema } from "../constructs/registry/settings";
import { keyAccessSchema } from "../constructs/shared/encryption-key";
import { cidrSchema as cidr, nameSchema as name } from "../constructs/private/validate";
import { checkWorkloadPools, workloadsSettingsSchema } from "../constructs/workloads/settings";

/** The one environment that may keep its state on the operator's disk: nobody else applies it. */
export const LOCAL_STATE_ENVIRONMENT = "dev";

const stateBackend = z.discriminatedUnion("type", [
  z
    .object({
      type: z.literal("local"),
      /** Folder of the state files (`<stack>.tfstate`), relative to where synth runs; default `terraform-state`. Never inside cdktf.out. */
      path: z.string().min(1).optional(),
    })
    .strict(),
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

const ingress = z
  .object({
    ...listenerSettingsShape,
    port: z.number().int().min(1).max(65535).default(443),
    /** Listener port of the TTS Service when STT and TTS run apart (workloads.split); STT keeps `port`. An NLB routes by port only. */
    ttsPort: z.number().int().min(1).max(65535).default(8443),
  })
  .strict()
  .superRefine(checkListener);

export const environmentSchema = z
  .object({
    name,
    region: z.string().regex(AWS_REGION_PATTERN, "expected an AWS region like eu-west-1"),
    availabilityZones: z.array(z.string().regex(AWS_AZ_PATTERN, "expected an AZ like eu-west-1a")).min(2).max(3),
    vpcCidr: vpcCidrSchema,
    mode: networkModeSchema,
    /** NAT gateways in connected mode: one per AZ (prod) or a single one (dev, to save cost). */
    natGateways: natGatewaysSchema,
    kubernetesVersion: kubernetesVersionSchema,
    nodePools: z.object({ system: systemPoolSchema.default({}), gpu: gpuPoolsSchema }).strict(),
    license: z
      .object({
        mode: z.enum(["online", "offline"]),
        serverUrl: z.string().url().startsWith("https://", "expected an https:// URL").optional(),
        /** CIDRs the license proxy may reach on 443 (the license server) in online mode. */
        serverCidrs: z.array(cidr).default([]),
      })
      .strict(),
    allowedClientCidrs: allowedClientCidrsSchema,
    cluster: clusterSettingsSchema.default({}),
    ingress: ingress.default({}),
    /** Keep the load balancer and stateful resources from being deleted by accident. */
    deletionProtection: z.boolean().default(true),
    flowLogRetentionDays: flowLogRetentionDaysSchema,
    /** The VPC endpoints' data perimeter: an AWS Organizations id, or this account only (constructs/network/settings.ts). */
    perimeter: perimeterSchema,
    /** Who administers and who uses every KMS key of the environment (constructs/shared/encryption-key.ts). */
    keys: keyAccessSchema.optional(),
    /** The role that mirrors images in (constructs/registry/settings.ts). */
    registry: registrySettingsSchema,
    tags: z.record(z.string().min(1).max(128), z.string().max(256)).default({}),
    stateBackend: stateBackend.default({ type: "local" }),
    /** Policy exceptions: each lets one rule fail for the named resources, with a reason the review report shows. */
    policy: z
      .object({
        acknowledgements: z
          .array(acknowledgementSchema)
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

    checkClusterInNetwork(env.cluster, env, (path, message) => fail(["cluster", ...path], message));
    checkCertificateRegion(env.ingress.certificateArn, env.region, (message) => fail(["ingress", "certificateArn"], message));
    // The pods admit the clients less the cluster's VPC (shared/load-balancer-forwarding.ts): a client network inside it admits nothing.
    // Malformed CIDRs are their own fields' errors already.
    if ([env.vpcCidr, ...env.allowedClientCidrs].every((c) => parseCidr(c))) {
      clientSources(env.allowedClientCidrs, [env.vpcCidr], (i, message) => fail(["allowedClientCidrs", i], `expected a client network outside the VPC (vpcCidr): ${message}`));
    }

    if (env.mode === "airgapped") {
      if (env.license.mode !== "offline") {
        fail(["license", "mode"], 'expected "offline" in airgapped mode: there is no route to a license server');
      }
    }
    if (env.license.mode === "online") {
      if (!env.license.serverUrl) fail(["license", "serverUrl"], "expected the license server URL in online mode");
      if (env.license.serverCidrs.length === 0) {
        fail(["license", "serverCidrs"], "expected the license server's CIDRs in online mode (the proxy's only egress)");
      }
    }

    if (env.stateBackend.type === "local" && env.name !== LOCAL_STATE_ENVIRONMENT) {
      fail(
        ["stateBackend"],
        `expected { "type": "s3", "bucket", "key", "region" } (remote, locked with useLockfile): local state is for the "${LOCAL_STATE_ENVIRONMENT}" environment only, since a second operator or CI job would not see it and two applies could run at once`,
      );
    }
    if (env.stateBackend.type === "s3" && env.stateBackend.dynamodbTable && env.stateBackend.useLockfile) {
      fail(["stateBackend", "dynamodbTable"], "expected either useLockfile or dynamodbTable, not both");
    }
    if (env.stateBackend.type === "s3" && !env.stateBackend.dynamodbTable && !env.stateBackend.useLockfile) {
      fail(["stateBackend", "useLockfile"], "expected true: without a lock two applies can run at once and corrupt the state");
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
