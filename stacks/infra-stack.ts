import { TerraformOutput, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { ClusterAutoscalerRole, GpuCluster } from "../constructs/cluster";
import { ModelBucket } from "../constructs/storage";
import { ConfigError, EnvironmentConfig } from "../app";
import { checkVersionSupport } from "../constructs/cluster/versions";
import { setKeyAccess } from "../constructs/shared";
import { SpeechPlatform } from "../constructs/platform";
import { modelImagesOf } from "../constructs/workloads/settings";
import { InternalLoadBalancer } from "../constructs/ingress";
import { acknowledgePolicy } from "../constructs/policy";
import { PrivateNetwork } from "../constructs/network";
import { PrivateRegistry } from "../constructs/registry";
import { environmentAwsProvider } from "./aws-provider";
import { configureBackend } from "./backend";
import { DataStack, environmentClusterName } from "./data-stack";
import { gpuPoolUseTags, inferenceEndpoints, inferencePlacements } from "./inference-endpoints";

export interface InfraStackProps {
  readonly env: EnvironmentConfig;
  /** The environment's `<env>-data` stack: the key of the retained volumes, which outlives this stack. */
  readonly data: DataStack;
  /** The day the Kubernetes version's EKS support is checked against; default today. */
  readonly synthDate?: Date;
}

/** `<env>-infra`: every AWS resource of one environment. */
export class InfraStack extends TerraformStack {
  readonly network: PrivateNetwork;
  readonly cluster: GpuCluster;
  /** The cluster autoscaler's Pod Identity role (scales only this cluster's tagged node groups). */
  readonly autoscalerRole: ClusterAutoscalerRole;
  readonly registry: PrivateRegistry;
  readonly modelBucket: ModelBucket;
  readonly loadBalancer: InternalLoadBalancer;
  /** The wiring of cluster, registry, load balancer and the workloads stack's Kubernetes provider. */
  readonly platform: SpeechPlatform;

  constructor(scope: Construct, id: string, props: InfraStackProps) {
    super(scope, id);
    const { env } = props;
    configureBackend(this, env, id);
    environmentAwsProvider(this, env);

    const synthDate = props.synthDate ?? new Date();
    const support = checkVersionSupport(env.kubernetesVersion, env.cluster.supportType, synthDate);
    if (support.error) throw new ConfigError([`environments/${env.name}.json: field "kubernetesVersion": ${support.error}, found "${env.kubernetesVersion}"`]);
    // Every key of the environment: named administrators apart from users (without them, VS-KMS-002 fails synth).
    if (env.keys) setKeyAccess(this, env.keys);

    const clusterName = environmentClusterName(env);
    this.network = new PrivateNetwork(this, "network", {
      name: env.name,
      clusterName,
      cidr: env.vpcCidr,
      azs: env.availabilityZones,
      region: env.region,
      mode: env.mode,
      natGateways: env.natGateways,
      flowLogRetentionDays: env.flowLogRetentionDays,
      organizationId: env.perimeter.organizationId,
    });
    new TerraformOutput(this, "vpc_id", { value: this.network.vpcId });
    new TerraformOutput(this, "private_subnet_ids", { value: this.network.privateSubnetIds });
    new TerraformOutput(this, "endpoint_security_group_id", { value: this.network.endpointSecurityGroupId });

    // Where the inference services run (GPU pools only for engines that use one) decides what the load
    // balancer targets, and marks each GPU pool with the services that use it, or "none".
    const services = inferencePlacements(env);
    this.cluster = new GpuCluster(this, "cluster", {
      network: this.network,
      name: clusterName,
      kubernetesVersion: env.kubernetesVersion,
      supportCheckDate: synthDate,
      systemPool: env.nodePools.system,
      gpuPools: env.nodePools.gpu.map((pool) => ({ ...pool, tags: { ...pool.tags, ...gpuPoolUseTags(services, pool.name) } })),
      // The data stack's key, granted by its tag (this stack reads nothing of that one's state): destroying this stack leaves the retained volumes readable.
      volumeKey: props.data.volumeKey,
      // The environment's cluster settings are GpuCluster's own props (clusterSettingsSchema).
      ...env.cluster,
      // Instances launched by Auto Scaling do not get the provider's default tags.
      tags: { ...env.tags, "voice-selfhost:environment": env.name },
    });
    this.autoscalerRole = new ClusterAutoscalerRole(this, "cluster-autoscaler", { cluster: this.cluster });
    this.registry = new PrivateRegistry(this, "registry", {
      network: this.network,
      repositoryPrefix: `voice-selfhost/${env.name}`,
      // The autoscaler mirrored is the one of the cluster's minor.
      kubernetesVersion: env.kubernetesVersion,
      region: env.region,
      // A repository per model image the workloads run; the pods pull each by the digest the file names.
      modelImages: modelImagesOf(env.workloads.models),
    });
    // The mirror role copies the images in (the platform lets the nodes pull).
    if (env.registry.mirrorRoleArn) this.registry.grantMirror(env.registry.mirrorRoleArn);
    // The archive of imported models the model images are built from: nothing in the cluster reads it; the mirror role,
    // which builds and pushes those images, may.
    this.modelBucket = new ModelBucket(this, "models", { namePrefix: `${env.name}-models-` });
    if (env.registry.mirrorRoleArn) this.modelBucket.grantRead(env.registry.mirrorRoleArn);
    this.platform = new SpeechPlatform(this, {
      cluster: this.cluster,
      registry: this.registry,
      region: env.region,
      inferenceNodes: [...new Set(services.map((s) => (s.gpu ? ("gpu" as const) : ("system" as const))))],
      ingress: {
        allowedClientCidrs: env.allowedClientCidrs,
        certificateArn: env.ingress.certificateArn,
        plainTcp: env.ingress.plainTcp,
        services: inferenceEndpoints(env),
        deletionProtection: env.deletionProtection,
      },
    });
    this.loadBalancer = this.platform.loadBalancer;
    acknowledgePolicy(
      this.loadBalancer,
      "VS-LB-004",
      "EKS managed node groups take no target group (containers-roadmap #709); each attachment references its node group's own Auto Scaling group, so a replaced group is re-attached by the same apply, the Auto Scaling group deregisters an instance before terminating it, and pods drain on kube-proxy's health check first (shared/drain.ts)",
    );

    new TerraformOutput(this, "cluster_name", { value: this.cluster.clusterName });
    new TerraformOutput(this, "cluster_endpoint", { value: this.cluster.endpoint });
    new TerraformOutput(this, "cluster_certificate_authority_data", { value: this.cluster.certificateAuthorityData });
    new TerraformOutput(this, "node_role_arn", { value: this.cluster.nodeRoleArn });
    new TerraformOutput(this, "repository_urls", {
      value: Object.fromEntries(Object.entries(this.registry.images).map(([key, image]) => [key, image.repositoryUrl])),
    });
    new TerraformOutput(this, "target_group_arns", {
      value: Object.fromEntries(Object.entries(this.loadBalancer.targetGroups).map(([name, group]) => [name, group.arn])),
    });
    new TerraformOutput(this, "load_balancer_dns_name", { value: this.loadBalancer.dnsName });
    new TerraformOutput(this, "model_bucket_name", { value: this.modelBucket.bucketName });
    // `aws ssm start-session --target <id>` (README, "Reach the private API").
    if (this.cluster.adminHost) new TerraformOutput(this, "admin_host_instance_id", { value: this.cluster.adminHost.instanceId });
  }
}
