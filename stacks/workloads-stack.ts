import { TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { ConfigError, EnvironmentConfig } from "../app";
import { checkApiAccess } from "../constructs/cluster/settings";
import { INFERENCE_HEALTH_CHECK_NODE_PORTS, INFERENCE_NODE_PORTS } from "../constructs/private/names";
import { AutoscalingMetrics } from "../constructs/workloads/autoscaling-metrics";
import { ClusterAutoscaler } from "../constructs/workloads/cluster-autoscaler";
import { GpuNodeAgents } from "../constructs/workloads/gpu-node-agents";
import { InferenceService } from "../constructs/workloads/inference-service";
import { ScheduledScaling } from "../constructs/workloads/scheduled-scaling";
import { LicenseProxy } from "../constructs/workloads/license-proxy";
import { Monitoring } from "../constructs/workloads/monitoring";
import { WorkloadNamespace } from "../constructs/workloads/namespace";
import { EncryptedStorageClass } from "../constructs/workloads/storage-class";
import { configureBackend } from "./backend";
import { inferencePlacements } from "./inference-endpoints";
import { InfraStack } from "./infra-stack";

export interface WorkloadsStackProps {
  readonly env: EnvironmentConfig;
  /** The environment's infra stack: cluster, registry and model bucket, referenced across stacks. */
  readonly infra: InfraStack;
}

/**
 * `<env>-workloads`: every Kubernetes object of one environment, deployed into the cluster of
 * `<env>-infra`. The Kubernetes provider is configured from that stack's outputs (cross-stack
 * references: Terraform reads them from the infra stack's state), and authenticates with a
 * short-lived token from `aws eks get-token`, so no credential is stored in state or config.
 *
 * Deploy order: `<env>-infra` first. The objects are `kubernetes_manifest` resources, which read
 * the cluster's API schema at plan time, so this stack can be planned only once the cluster exists.
 */
export class WorkloadsStack extends TerraformStack {
  readonly namespace: WorkloadNamespace;
  readonly licenseProxy: LicenseProxy;
  readonly inferenceServices: InferenceService[];
  readonly gpuAgents: GpuNodeAgents;
  readonly clusterAutoscaler: ClusterAutoscaler;
  readonly autoscalingMetrics: AutoscalingMetrics;
  /** Scale to zero on a schedule, where the environment sets workloads.scaleToZero. */
  readonly scheduledScaling?: ScheduledScaling;

  constructor(scope: Construct, id: string, props: WorkloadsStackProps) {
    super(scope, id);
    const { env, infra } = props;
    const w = env.workloads;
    // Every object here goes through the Kubernetes API: someone must be allowed in, and be able to get there.
    const problems: string[] = [];
    checkApiAccess(infra.cluster.settings, (path, message) => problems.push(`environments/${env.name}.json: field "cluster.${path.join(".")}": ${message}`));
    if (problems.length > 0) throw new ConfigError(problems);
    configureBackend(this, env, id);
    infra.platform.kubernetesProvider(this);

    const images = infra.registry.images;
    const server = images.inferenceServer;
    const image = w.image.digest ? `${server.repositoryUrl}@${w.image.digest}` : w.image.tag ? `${server.repositoryUrl}:${w.image.tag}` : server.imageUri;

    this.namespace = new WorkloadNamespace(this, "namespace");
    this.licenseProxy = new LicenseProxy(this, "license-proxy", {
      namespace: this.namespace,
      image,
      license:
        env.license.mode === "online"
          ? { mode: "online", serverUrl: env.license.serverUrl!, serverCidrs: env.license.serverCidrs }
          : { mode: "offline" },
      settings: w.licenseProxy,
      // The cluster's key, which lets the EBS CSI driver's role encrypt with it (a cross-stack reference to the infra stack).
      storageClass: new EncryptedStorageClass(this, "storage-class", { kmsKeyArn: infra.cluster.volumeKeyArn }),
      metricsScraperNamespace: w.metricsScraperNamespace,
    });

    // Each model image pinned by the digest the environment file names (the infra stack's registry holds its repository).
    const modelImages = Object.fromEntries(Object.entries(infra.registry.modelImages).map(([kind, image]) => [kind, image.imageUri]));
    this.inferenceServices = inferencePlacements(env).map(({ name, settings }, i) => {
      return infra.platform.addInferenceService(this, name, {
        name,
        namespace: this.namespace,
        image,
        // On GPU nodes with its pool resolved, the one the infra stack tagged for it (stacks/inference-endpoints.ts).
        settings,
        models: w.models,
        imageCudaRuntime: w.image.cudaRuntime,
        modelImages,
        licenseProxyUrl: this.licenseProxy.url,
        // The same table the infra stack's load balancer listeners are built from (stacks/inference-endpoints.ts).
        nodePort: INFERENCE_NODE_PORTS[name],
        healthCheckNodePort: INFERENCE_HEALTH_CHECK_NODE_PORTS[name],
        // One service account for all inference pods (it carries no AWS identity).
        createServiceAccount: i === 0,
        metricsScraperNamespace: w.metricsScraperNamespace,
      });
    });

    // Off hours where the environment allows it (workloads.scaleToZero); otherwise warm replicas at all times.
    if (w.scaleToZero) {
      this.scheduledScaling = new ScheduledScaling(this, "scheduled-scaling", {
        namespace: this.namespace,
        image,
        deployments: this.inferenceServices.map((s) => ({ name: s.name, minReplicas: s.settings.replicas.min })),
        schedule: w.scaleToZero,
        apiCidrs: infra.platform.kubernetesApiCidrs,
      });
    }

    this.gpuAgents = new GpuNodeAgents(this, "gpu", {
      devicePluginImage: images.nvidiaDevicePlugin.imageUri,
      dcgmExporterImage: images.dcgmExporter.imageUri,
      // The device plugin runs on the cluster's AL2023 pools; Bottlerocket's NVIDIA variants ship it on the host.
      cluster: infra.cluster,
      metricsScraperNamespace: w.metricsScraperNamespace,
    });
    this.clusterAutoscaler = new ClusterAutoscaler(this, "cluster-autoscaler", {
      image: images.clusterAutoscaler.imageUri,
      // The API calls go to the cluster's VPC (private endpoint, AWS API endpoints) and its service CIDR (the `kubernetes` Service).
      cluster: infra.cluster,
      region: env.region,
      identity: infra.autoscalerRole,
      metricsScraperNamespace: w.metricsScraperNamespace,
    });
    const scraped = [this.namespace, this.gpuAgents.namespace, this.clusterAutoscaler.namespace];
    const monitoring = new Monitoring(this, "monitoring", { namespace: this.namespace, scrapeNamespaces: scraped.map((n) => n.name) });
    // What the HPAs scale on: Prometheus scraping the pods (the same job and rules) and prometheus-adapter serving the load ratio.
    this.autoscalingMetrics = new AutoscalingMetrics(this, "autoscaling-metrics", {
      prometheusImage: images.prometheus.imageUri,
      adapterImage: images.prometheusAdapter.imageUri,
      scrapeConfig: monitoring.scrapeConfig,
      alertRules: monitoring.alertRules,
      scrapeNamespaces: scraped,
      namespace: w.metricsScraperNamespace,
      apiCidrs: infra.platform.kubernetesApiCidrs,
    });
  }
}
