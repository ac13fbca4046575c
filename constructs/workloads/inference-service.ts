import { createHash } from "crypto";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { IIoK8sApiCoreV1Container } from "kubernetes-models/v1/Container";
import type { IIoK8sApiCoreV1Probe } from "kubernetes-models/v1/Probe";
import type { IService } from "kubernetes-models/v1/Service";
import type { IServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import type { IIoK8sApiCoreV1Volume } from "kubernetes-models/v1/Volume";
import type { IIoK8sApiCoreV1VolumeMount } from "kubernetes-models/v1/VolumeMount";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IIoK8sApiNetworkingV1NetworkPolicyEgressRule } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicyEgressRule";
import type { IHorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { Manifest } from "@cdktf/provider-kubernetes/lib/manifest";
import { Construct } from "constructs";
import { GPU_RESOURCE, GPU_TAINT, GPU_USE_ANNOTATIONS, INFERENCE_HEALTH_CHECK_NODE_PORTS, INFERENCE_LOAD_BALANCER_CLASS, INFERENCE_NODE_PORT, INFERENCE_SERVICE_ACCOUNT, NODE_LABELS } from "../shared/names";
import { DrainTiming, drainTiming, TARGET_HEALTH_CHECK, TARGET_HEALTH_CHECK_ANNOTATION } from "../shared/drain";
import { checkImagePinned } from "../shared/image-ref";
import { parseProps } from "../shared/validate";
import { BUILTIN_ENGINES, ENGINE_LANES, IMAGE_COMMANDS, INFERENCE_HEALTH, INFERENCE_PORT, LICENSE_PROXY_PORT, METRICS, METRICS_PATH, MODELS_MOUNT, SECRETS, SERVER_ENV } from "./contract";
import { COMPONENT_LABEL, objectLabels, selectorLabels } from "./labels";
import { NamespaceRef, namespaced, namespaceRef, networkPolicy, scraperIngress } from "./namespace";
import { restrictedContainerSecurityContext, restrictedPodSecurityContext, TMP_MOUNT, TMP_VOLUME } from "./pod-security";
import { parseCpu } from "./quantity";
import {
  checkCudaRuntime,
  GpuPlacement,
  gpuPlacement,
  InferenceServiceSettings,
  InferenceServiceSettingsInput,
  inferenceServiceSettingsSchema,
  ModelSettings,
  ModelSettingsInput,
  modelSettingsSchema,
} from "./settings";

/** Where the model-sync init container copies models from (models.source "s3"). */
export interface ModelSyncProps {
  /** The aws-cli image, from the environment's private registry. */
  readonly image: string;
  /** The model bucket; the service account's Pod Identity role is its only reader. */
  readonly bucket: string;
  readonly region: string;
}

/** Props of InferenceService: the image, the license proxy's URL and the allowed sources are required. */
export interface InferenceServiceProps {
  /** Name of the Deployment, Service and the rest. Default `inference`; `stt` / `tts` when the two run apart. */
  readonly name?: string;
  /** Default: the existing namespace `voice-selfhost`. Pass the WorkloadNamespace to create objects after it. */
  readonly namespace?: NamespaceRef | string;
  /** The inference image, pinned by immutable tag or digest (`<repo>:<tag>` or `<repo>@sha256:...`). */
  readonly image: string;
  /** Pool, GPUs, replicas, resources, timeouts; defaults: 1 GPU on any GPU node (any pool) for engines that use one, 2-6 replicas. */
  readonly settings?: InferenceServiceSettingsInput;
  /** Engines and where their models come from; default: the built-in engines. */
  readonly models?: ModelSettingsInput;
  /** Required when models come from S3. */
  readonly modelSync?: ModelSyncProps;
  /** The image's onnxruntime has the CUDA provider (WorkloadsSettings.image.cudaRuntime). Default false: `cuda` is refused, `auto` runs on the CPU. */
  readonly imageCudaRuntime?: boolean;
  /** The license proxy's in-cluster URL (`LicenseProxy.url`). */
  readonly licenseProxyUrl: string;
  /**
   * Source CIDRs admitted to the inference port: what the load balancer's targets see, i.e.
   * `InternalLoadBalancer.targetSourceCidrs` (the clients, whose IP it preserves, and its health checks).
   */
  readonly allowedSourceCidrs: string[];
  /** The NodePort the internal load balancer targets. Default: the shared INFERENCE_NODE_PORT. */
  readonly nodePort?: number;
  /** kube-proxy's health-check node port the load balancer's health check targets. Default: INFERENCE_HEALTH_CHECK_NODE_PORTS.inference. */
  readonly healthCheckNodePort?: number;
  /** Create the `inference-server` service account (its Pod Identity role reads the model bucket). Default true; false for a second service that shares it. */
  readonly createServiceAccount?: boolean;
  /** The namespace of the Prometheus allowed to scrape the pods. Default `monitoring`. */
  readonly metricsScraperNamespace?: string;
}

/** Addresses a pod may reach on 443 for S3 through the gateway endpoint: public ones only (S3 has no private addresses). */
const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];
/** The EKS Pod Identity agent, on every node's link-local address: where the AWS SDK gets the pod's credentials. */
export const POD_IDENTITY_AGENT = "169.254.170.23/32";

/**
 * The inference server: a Deployment on a GPU pool behind a Service whose node ports the internal
 * load balancer's instance targets reach, with a ConfigMap, an HPA, a PodDisruptionBudget and its
 * NetworkPolicies.
 *
 * Traffic path: NLB (client IP preserved) -> node's NodePort -> pod. The Service uses
 * `externalTrafficPolicy: Local`: kube-proxy does not SNAT or hop to another node, so the pod sees
 * the client's address and the NetworkPolicy admits `allowedSourceCidrs`: the client CIDRs and the
 * load balancer's health-check sources (its subnets); nodes without a ready pod fail the health
 * check and get no traffic. With the VPC CNI, pods and nodes share those subnets, so the API keys,
 * not the network, are what keep other callers in them out.
 *
 * The Service is of type LoadBalancer with a class no controller implements (the NLB is the infra
 * stack's), only so kube-proxy serves its health-check node port: the target group's health check,
 * which fails on a node whose pods are all terminating while kube-proxy still routes to them.
 *
 * Shutdown (shared/drain.ts): the preStop sleep outlasts the NLB's detection of that failure, so the
 * pod serves every connection still sent to it; then SIGTERM lets the server finish in-flight work for
 * up to the request timeout plus a margin; terminationGracePeriodSeconds covers both, and a new pod
 * counts as available only once the NLB can have marked its node healthy (minReadySeconds).
 *
 * Scaling: the HPA targets the server's `inference_load_ratio` per engine lane (live, batch: in-flight
 * work over what a replica holds without queueing; AutoscalingMetrics serves it through the custom
 * metrics API) and CPU utilisation (metrics-server). It acts on the largest proposal; when the custom
 * metrics are unavailable it still scales up on CPU (and does not scale down until all are readable
 * again). minReplicas is at least 1: HPAs cannot scale to zero on EKS (HPAScaleToZero is alpha), and
 * behind the NLB a Deployment at zero has no pod to report the load that would wake it.
 */
export class InferenceService extends Construct {
  readonly name: string;
  readonly settings: InferenceServiceSettings;
  readonly models: ModelSettings;
  readonly deployment: Manifest;
  readonly service: Manifest;
  /** The pods' labels, for selectors elsewhere (monitoring, policies). */
  readonly podLabels: Record<string, string>;
  /** How its pods leave the load balancer; `terminationGracePeriodSeconds` among it. */
  readonly drain: DrainTiming;
  /** GPU nodes or the system pool, and why (the load balancer targets the same nodes). */
  readonly placement: GpuPlacement;

  constructor(scope: Construct, id: string, props: InferenceServiceProps) {
    super(scope, id);
    const where = this.node.path;
    this.name = props.name ?? "inference";
    this.settings = parseProps(inferenceServiceSettingsSchema, props.settings ?? {}, `${where} settings`);
    this.models = parseProps(modelSettingsSchema, props.models ?? {}, `${where} models`);
    const s = this.settings;
    const serviceKey = props.name === "stt" || props.name === "tts" ? props.name : "inference";
    const cudaRuntime = props.imageCudaRuntime ?? false;
    checkCudaRuntime(this.models, cudaRuntime, (path, message) => {
      throw new Error(`${where} ${path.join(".")}: ${message}`);
    });
    this.placement = gpuPlacement(this.models, serviceKey, s, cudaRuntime);
    const onGpu = this.placement.gpu;
    if (!onGpu && s.pool) {
      throw new Error(`${where} settings.pool: "${s.pool}" is a GPU pool, but ${this.placement.reason}: set a sherpa model's provider to cuda or auto, or state settings.cpuEnginesOnGpu with a reason`);
    }
    checkImagePinned(props.image, `${where} image`);
    if (this.models.source === "s3" && !props.modelSync) throw new Error(`${where} modelSync: expected the aws-cli image, bucket and region when models.source is "s3"`);
    if (props.allowedSourceCidrs.length === 0) throw new Error(`${where} allowedSourceCidrs: expected at least one CIDR (InternalLoadBalancer.targetSourceCidrs)`);

    const ns = namespaceRef(props.namespace);
    const labels = objectLabels(this.name, "inference");
    const selector = selectorLabels(this.name, "inference");
    this.podLabels = selector;

    this.drain = drainTiming(s.requestTimeoutSeconds);

    const sync = this.models.source === "s3" ? props.modelSync : undefined;
    const modelDir = (kind: "stt" | "tts"): string | undefined => {
      const m = this.models[kind];
      if (BUILTIN_ENGINES.includes(m.engine)) return undefined;
      return sync ? `${MODELS_MOUNT}/${kind}` : m.location;
    };
    const workers = s.workers ?? Math.max(1, Math.floor(parseCpu(s.resources.requests.cpu)!));
    const config: Record<string, string> = {
      [SERVER_ENV.port]: String(INFERENCE_PORT),
      [SERVER_ENV.apiKeysFile]: `${SECRETS.apiKeys.mountPath}/${SECRETS.apiKeys.key}`,
      [SERVER_ENV.licenseProxyUrl]: props.licenseProxyUrl,
      [SERVER_ENV.sttEngine]: this.models.stt.engine,
      [SERVER_ENV.ttsEngine]: this.models.tts.engine,
      [SERVER_ENV.sttProvider]: this.models.stt.provider,
      [SERVER_ENV.ttsProvider]: this.models.tts.provider,
      [SERVER_ENV.workers]: String(workers),
      [SERVER_ENV.requestTimeoutMs]: String(s.requestTimeoutSeconds * 1000),
      [SERVER_ENV.shutdownGraceMs]: String(this.drain.shutdownGraceSeconds * 1000),
      // Usage written ahead on the pod's /tmp emptyDir: it survives a killed or restarted server container.
      [SERVER_ENV.usageWalDir]: `${TMP_MOUNT.mountPath}/usage-wal`,
    };
    const sttDir = modelDir("stt");
    const ttsDir = modelDir("tts");
    if (sttDir) config[SERVER_ENV.sttModelDir] = sttDir;
    if (ttsDir) config[SERVER_ENV.ttsModelDir] = ttsDir;
    if (s.queueMax !== undefined) config[SERVER_ENV.queueMax] = String(s.queueMax);

    if (props.createServiceAccount ?? true) {
      const sa: IServiceAccount = {
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: { name: INFERENCE_SERVICE_ACCOUNT, labels: objectLabels(INFERENCE_SERVICE_ACCOUNT, "inference") },
        // Pod Identity injects its own token; the pods never call the Kubernetes API.
        automountServiceAccountToken: false,
      };
      namespaced(this, "service-account", ns, sa);
    }

    const configMap: IConfigMap = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: `${this.name}-config`, labels }, data: config };
    namespaced(this, "config", ns, configMap);

    const httpGet = (path: string) => ({ path, port: "http" });
    const probe = (path: string, periodSeconds: number, failureThreshold: number): IIoK8sApiCoreV1Probe => ({
      httpGet: httpGet(path),
      periodSeconds,
      failureThreshold,
      timeoutSeconds: 3,
    });
    const resources = (side: "requests" | "limits") => ({
      cpu: s.resources[side].cpu,
      memory: s.resources[side].memory,
      ...(onGpu ? { [GPU_RESOURCE]: String(s.gpusPerPod) } : {}),
    });

    const volumes: IIoK8sApiCoreV1Volume[] = [
      TMP_VOLUME,
      // Mounted as a directory, not with subPath: only then does the kubelet swap in a changed Secret, which the server reloads.
      { name: "api-keys", secret: { secretName: s.apiKeysSecret, defaultMode: 0o440 } },
    ];
    const mounts: IIoK8sApiCoreV1VolumeMount[] = [TMP_MOUNT, { name: "api-keys", mountPath: SECRETS.apiKeys.mountPath, readOnly: true }];
    const initContainers: IIoK8sApiCoreV1Container[] = [];
    if (sync && (sttDir || ttsDir)) {
      volumes.push({ name: "models", emptyDir: { sizeLimit: this.models.volumeSize } });
      mounts.push({ name: "models", mountPath: MODELS_MOUNT, readOnly: true });
      for (const kind of ["stt", "tts"] as const) {
        const location = this.models[kind].location;
        if (!modelDir(kind) || !location) continue;
        initContainers.push({
          name: `model-sync-${kind}`,
          image: sync.image,
          command: ["aws", "s3", "sync", "--only-show-errors", "--no-progress", `s3://${sync.bucket}/${location.replace(/\/+$/, "")}/`, `${MODELS_MOUNT}/${kind}`],
          env: [
            { name: "AWS_REGION", value: sync.region },
            // Credentials come from the Pod Identity agent; never fall back to the node's instance profile.
            { name: "AWS_EC2_METADATA_DISABLED", value: "true" },
            { name: "HOME", value: "/tmp" },
          ],
          resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } },
          securityContext: restrictedContainerSecurityContext(),
          volumeMounts: [TMP_MOUNT, { name: "models", mountPath: MODELS_MOUNT }],
        });
      }
    }

    const configHash = createHash("sha256").update(JSON.stringify(config)).digest("hex").slice(0, 16);
    const deployment: IDeployment = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: this.name, labels },
      spec: {
        // No replicas: the HPA owns the count (a fixed number here would fight it on every apply).
        revisionHistoryLimit: 5,
        minReadySeconds: this.drain.minReadySeconds,
        selector: { matchLabels: selector },
        // Surge instead of dropping capacity: a GPU pod leaves only when its replacement is ready.
        strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
        template: {
          metadata: {
            labels: { ...labels },
            annotations: {
              "prometheus.io/scrape": "true",
              "prometheus.io/port": String(INFERENCE_PORT),
              "prometheus.io/path": METRICS_PATH,
              // A config change rolls the pods: they read the ConfigMap only at start.
              "voice-selfhost.io/config-hash": configHash,
              // Whether a GPU these pods hold can be used (policy rule VS-K8S-016 reads them).
              ...(onGpu ? { [GPU_USE_ANNOTATIONS.cudaRuntime]: String(cudaRuntime) } : {}),
              ...(onGpu && s.cpuEnginesOnGpu ? { [GPU_USE_ANNOTATIONS.cpuEnginesOnGpu]: s.cpuEnginesOnGpu.reason } : {}),
            },
          },
          spec: {
            serviceAccountName: INFERENCE_SERVICE_ACCOUNT,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: restrictedPodSecurityContext(),
            terminationGracePeriodSeconds: this.drain.terminationGracePeriodSeconds,
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [
                    {
                      matchExpressions: !onGpu
                        ? [{ key: NODE_LABELS.role, operator: "In", values: ["system"] }]
                        : s.pool
                          ? [{ key: NODE_LABELS.pool, operator: "In", values: [s.pool] }]
                          : [{ key: NODE_LABELS.role, operator: "In", values: ["gpu"] }],
                    },
                  ],
                },
              },
            },
            tolerations: onGpu ? [{ key: GPU_TAINT.key, operator: "Equal", value: GPU_TAINT.value, effect: GPU_TAINT.effect }] : undefined,
            // ScheduleAnyway: a GPU pool may have capacity in one zone only (spot, quotas); pending pods would be worse than skew.
            topologySpreadConstraints: [
              { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: selector } },
              { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: selector } },
            ],
            initContainers: initContainers.length > 0 ? initContainers : undefined,
            containers: [
              {
                name: "server",
                image: props.image,
                command: [...IMAGE_COMMANDS.server],
                ports: [{ name: "http", containerPort: INFERENCE_PORT, protocol: "TCP" }],
                envFrom: [{ configMapRef: { name: configMap.metadata!.name! } }],
                resources: { requests: resources("requests"), limits: resources("limits") },
                // Startup allows up to 5 minutes for engines to load before liveness starts counting.
                startupProbe: probe(INFERENCE_HEALTH.live, 5, 60),
                readinessProbe: probe(INFERENCE_HEALTH.ready, 5, 2),
                livenessProbe: probe(INFERENCE_HEALTH.live, 10, 3),
                lifecycle: { preStop: { sleep: { seconds: this.drain.preStopSeconds } } },
                securityContext: restrictedContainerSecurityContext(),
                volumeMounts: mounts,
              },
            ],
            volumes,
          },
        },
      },
    };
    this.deployment = namespaced(this, "deployment", ns, deployment);

    const service: IService = {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: this.name, labels, annotations: { [TARGET_HEALTH_CHECK_ANNOTATION]: JSON.stringify(TARGET_HEALTH_CHECK) } },
      spec: {
        type: "LoadBalancer",
        loadBalancerClass: INFERENCE_LOAD_BALANCER_CLASS,
        allocateLoadBalancerNodePorts: true,
        externalTrafficPolicy: "Local",
        healthCheckNodePort: props.healthCheckNodePort ?? INFERENCE_HEALTH_CHECK_NODE_PORTS.inference,
        selector,
        ports: [{ name: "http", port: INFERENCE_PORT, targetPort: "http", protocol: "TCP", nodePort: props.nodePort ?? INFERENCE_NODE_PORT }],
      },
    };
    this.service = namespaced(this, "service", ns, service);

    const pdb: IPodDisruptionBudget = {
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: { name: this.name, labels },
      spec: {
        maxUnavailable: 1,
        selector: { matchLabels: selector },
        // A crash-looping pod must not block a node drain.
        unhealthyPodEvictionPolicy: "AlwaysAllow",
      },
    };
    namespaced(this, "pdb", ns, pdb);

    const hpa: IHorizontalPodAutoscaler = {
      apiVersion: "autoscaling/v2",
      kind: "HorizontalPodAutoscaler",
      metadata: { name: this.name, labels },
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: this.name },
        minReplicas: s.replicas.min,
        maxReplicas: s.replicas.max,
        // Each engine lane's load ratio (served by AutoscalingMetrics' adapter); the HPA follows the lane that needs most replicas.
        metrics: [
          ...ENGINE_LANES.map((lane) => ({
            type: "Pods",
            pods: { metric: { name: METRICS.loadRatio, selector: { matchLabels: { lane } } }, target: { type: "AverageValue", averageValue: `${Math.round(s.targetLoadRatio * 1000)}m` } },
          })),
          { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: s.targetCpuUtilization } } },
        ],
        behavior: {
          // GPU nodes take minutes to join: add capacity at once, give it back slowly.
          scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: "Pods", value: 2, periodSeconds: 60 }] },
          scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: "Pods", value: 1, periodSeconds: 120 }] },
        },
      },
    };
    namespaced(this, "hpa", ns, hpa);

    networkPolicy(this, ns, `${this.name}-ingress`, {
      podSelector: { matchLabels: selector },
      policyTypes: ["Ingress"],
      ingress: [
        { from: props.allowedSourceCidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: [{ protocol: "TCP", port: INFERENCE_PORT }] },
        scraperIngress(props.metricsScraperNamespace, INFERENCE_PORT),
      ],
    });
    networkPolicy(this, ns, `${this.name}-egress`, {
      podSelector: { matchLabels: selector },
      policyTypes: ["Egress"],
      egress: [
        { to: [{ podSelector: { matchLabels: { [COMPONENT_LABEL]: "license-proxy" } } }], ports: [{ protocol: "TCP", port: LICENSE_PROXY_PORT }] },
        // The model-sync init containers: S3 through the gateway endpoint (public S3 addresses on 443) and the
        // Pod Identity agent. A policy applies to the whole pod, so only pods that sync models get this.
        ...(initContainers.length > 0
          ? <IIoK8sApiNetworkingV1NetworkPolicyEgressRule[]>[
              { to: [{ ipBlock: { cidr: "0.0.0.0/0", except: PRIVATE_RANGES } }], ports: [{ protocol: "TCP", port: 443 }] },
              { to: [{ ipBlock: { cidr: POD_IDENTITY_AGENT } }], ports: [{ protocol: "TCP", port: 80 }] },
            ]
          : []),
      ],
    });
  }
}
