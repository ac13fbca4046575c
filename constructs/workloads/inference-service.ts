import { createHash } from "crypto";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { IIoK8sApiCoreV1Container } from "kubernetes-models/v1/Container";
import type { IIoK8sApiCoreV1Probe } from "kubernetes-models/v1/Probe";
import type { IService } from "kubernetes-models/v1/Service";
import type { IServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import type { IIoK8sApiCoreV1Volume } from "kubernetes-models/v1/Volume";
import type { IIoK8sApiCoreV1VolumeMount } from "kubernetes-models/v1/VolumeMount";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IHorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { Manifest } from "@cdktf/provider-kubernetes/lib/manifest";
import { Construct } from "constructs";
import { GPU_RESOURCE, GPU_TAINT, GPU_USE_ANNOTATIONS, INFERENCE_HEALTH_CHECK_NODE_PORTS, INFERENCE_LOAD_BALANCER_CLASS, INFERENCE_NODE_PORT, INFERENCE_SERVICE_ACCOUNT, NODE_LABELS } from "../private/names";
import { DrainTiming, drainTiming, TARGET_HEALTH_CHECK, TARGET_HEALTH_CHECK_ANNOTATION } from "../shared/drain";
import { LOAD_BALANCER_FORWARDING_ANNOTATION, LoadBalancerForwarding } from "../shared/load-balancer-forwarding";
import { checkImagePinned } from "../private/image-ref";
import { parseProps } from "../private/validate";
import { BUILTIN_ENGINES, ENGINE_LANES, IMAGE_COMMANDS, INFERENCE_HEALTH, INFERENCE_PORT, LICENSE_PROXY_PORT, METRICS, METRICS_PATH, MODEL_IMAGE, MODELS_MOUNT, SECRETS, SERVER_ENV, TLS_SECRET } from "./contract";
import { COMPONENT_LABEL, objectLabels, selectorLabels } from "./private/labels";
import { NamespaceRef, namespaced, namespaceRef, networkPolicy, scraperIngress } from "./namespace";
import { restrictedContainerSecurityContext, restrictedPodSecurityContext, TMP_MOUNT, TMP_VOLUME } from "./private/pod-security";
import { parseCpu } from "./private/quantity";
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

/** The model images of a service's models (models.source "registry"), by kind, pinned by digest (`PrivateRegistry.modelImages`). */
export type ModelImages = Partial<Record<"stt" | "tts", string>>;

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
  /** Required when models come from the registry (models.source "registry"): each model's image, pinned by digest. */
  readonly modelImages?: ModelImages;
  /** The image's onnxruntime has the CUDA provider (WorkloadsSettings.image.cudaRuntime). Default false: `cuda` is refused, `auto` runs on the CPU. */
  readonly imageCudaRuntime?: boolean;
  /** The license proxy's in-cluster URL (`LicenseProxy.url`). */
  readonly licenseProxyUrl: string;
  /**
   * What the load balancer in front forwards to the pods (`InternalLoadBalancer.forwarding`): the clients the
   * pods admit (their addresses are preserved; the cluster's network carved out) and whether it re-encrypts
   * to them, in which case the pods serve TLS with the Secret `settings.tlsSecret`.
   */
  readonly loadBalancer: LoadBalancerForwarding;
  /** The NodePort the internal load balancer targets. Default: the shared INFERENCE_NODE_PORT. */
  readonly nodePort?: number;
  /** kube-proxy's health-check node port the load balancer's health check targets. Default: INFERENCE_HEALTH_CHECK_NODE_PORTS.inference. */
  readonly healthCheckNodePort?: number;
  /** Create the `inference-server` service account (no AWS identity: models come as images or in the image). Default true; false for a second service that shares it. */
  readonly createServiceAccount?: boolean;
  /** The namespace of the Prometheus allowed to scrape the pods. Default `monitoring`. */
  readonly metricsScraperNamespace?: string;
}

/**
 * The inference server: a Deployment on a GPU pool behind a Service whose node ports the internal
 * load balancer's instance targets reach, with a ConfigMap, an HPA, a PodDisruptionBudget and its
 * NetworkPolicies.
 *
 * Traffic path: NLB (client IP preserved) -> node's NodePort -> pod, over TLS end to end unless the
 * load balancer is plainTcp: the NLB re-encrypts to the pod, which serves the certificate of the Secret
 * `tlsSecret` (never a Terraform input) and picks up a renewed one without a restart. The Service uses
 * `externalTrafficPolicy: Local`: kube-proxy does not SNAT or hop to another node, so the pod sees
 * the client's address, and the ingress NetworkPolicy admits exactly what the load balancer forwards
 * (`loadBalancer.clients`: the client CIDRs less the cluster's VPC; the health checks stop at kube-proxy
 * on the node), the in-cluster callers named in `callers` (namespace and pod labels), and the metrics
 * scraper's namespace. Nothing else in the VPC reaches the pods. The Service says what the load balancer
 * forwards (annotation), so policy rule VS-K8S-017 checks the pods against it.
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
 * behind the NLB a Deployment at zero has no pod to report the load that would wake it; where an
 * environment may be off, ScheduledScaling takes the Deployment to zero and back on a schedule.
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
    const modelImages = this.models.source === "registry" ? (props.modelImages ?? {}) : {};
    for (const kind of ["stt", "tts"] as const) {
      if (!this.models[kind].image) continue;
      const image = modelImages[kind];
      if (!image) throw new Error(`${where} modelImages.${kind}: expected the ${kind} model's image from the registry (PrivateRegistry.modelImages.${kind}.imageUri), as models.source is "registry"`);
      if (!/@sha256:[a-f0-9]{64}$/.test(image)) throw new Error(`${where} modelImages.${kind}: expected an image pinned by digest (<repository>@sha256:...), found "${image}"`);
    }
    if (props.loadBalancer.clients.length === 0) throw new Error(`${where} loadBalancer.clients: expected at least one client network (InternalLoadBalancer.forwarding)`);
    const tls = props.loadBalancer.targetProtocol === "TLS";

    const ns = namespaceRef(props.namespace);
    const labels = objectLabels(this.name, "inference");
    const selector = selectorLabels(this.name, "inference");
    this.podLabels = selector;

    this.drain = drainTiming(s.requestTimeoutSeconds);

    const modelDir = (kind: "stt" | "tts"): string | undefined => {
      const m = this.models[kind];
      if (BUILTIN_ENGINES.includes(m.engine)) return undefined;
      return m.image ? `${MODELS_MOUNT}/${kind}` : m.location;
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
    if (tls) {
      config[SERVER_ENV.tlsCertFile] = `${TLS_SECRET.mountPath}/${TLS_SECRET.certKey}`;
      config[SERVER_ENV.tlsKeyFile] = `${TLS_SECRET.mountPath}/${TLS_SECRET.keyKey}`;
    }
    const portName = tls ? "https" : "http";
    const apiPort = [{ protocol: "TCP" as const, port: INFERENCE_PORT }];

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

    // The kubelet does not verify the certificate of an HTTPS probe.
    const httpGet = (path: string) => ({ path, port: portName, scheme: tls ? ("HTTPS" as const) : ("HTTP" as const) });
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
    if (tls) {
      // Also a directory mount: a renewed certificate is swapped in by the kubelet, and the server serves it without a restart.
      volumes.push({ name: "tls", secret: { secretName: s.tlsSecret, defaultMode: 0o440 } });
      mounts.push({ name: "tls", mountPath: TLS_SECRET.mountPath, readOnly: true });
    }
    const initContainers: IIoK8sApiCoreV1Container[] = [];
    const imaged = (["stt", "tts"] as const).filter((kind) => modelImages[kind] && this.models[kind].image);
    if (imaged.length > 0) {
      volumes.push({ name: "models", emptyDir: { sizeLimit: this.models.volumeSize } });
      mounts.push({ name: "models", mountPath: MODELS_MOUNT, readOnly: true });
      // Each model image copies its model from its own filesystem into the pod: the kubelet pulled it (node role, the
      // registry's endpoints), so nothing in the pod needs the network or an AWS identity. The server then checks it against its manifest.
      for (const kind of imaged) {
        initContainers.push({
          name: `model-${kind}`,
          image: modelImages[kind]!,
          command: [...MODEL_IMAGE.copy(`${MODELS_MOUNT}/${kind}`)],
          resources: { requests: { cpu: "250m", memory: "128Mi" }, limits: { cpu: "1", memory: "256Mi" } },
          securityContext: restrictedContainerSecurityContext(),
          volumeMounts: [{ name: "models", mountPath: MODELS_MOUNT }],
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
              "prometheus.io/scheme": tls ? "https" : "http",
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
                ports: [{ name: portName, containerPort: INFERENCE_PORT, protocol: "TCP" }],
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
      metadata: {
        name: this.name,
        labels,
        annotations: { [TARGET_HEALTH_CHECK_ANNOTATION]: JSON.stringify(TARGET_HEALTH_CHECK), [LOAD_BALANCER_FORWARDING_ANNOTATION]: JSON.stringify(props.loadBalancer) },
      },
      spec: {
        type: "LoadBalancer",
        loadBalancerClass: INFERENCE_LOAD_BALANCER_CLASS,
        allocateLoadBalancerNodePorts: true,
        externalTrafficPolicy: "Local",
        healthCheckNodePort: props.healthCheckNodePort ?? INFERENCE_HEALTH_CHECK_NODE_PORTS.inference,
        selector,
        ports: [{ name: portName, port: INFERENCE_PORT, targetPort: portName, protocol: "TCP", nodePort: props.nodePort ?? INFERENCE_NODE_PORT }],
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
        {
          from: props.loadBalancer.clients.map(({ cidr, except }) => ({ ipBlock: except.length > 0 ? { cidr, except: [...except] } : { cidr } })),
          ports: apiPort,
        },
        ...(s.callers.length > 0
          ? [
              {
                from: s.callers.map((c) => ({ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": c.namespace } }, podSelector: { matchLabels: c.podLabels } })),
                ports: apiPort,
              },
            ]
          : []),
        scraperIngress(props.metricsScraperNamespace, INFERENCE_PORT),
      ],
    });
    // The pods that handle customer audio reach the license proxy and, through the namespace's allow-dns policy, DNS: nothing else (VS-K8S-018).
    networkPolicy(this, ns, `${this.name}-egress`, {
      podSelector: { matchLabels: selector },
      policyTypes: ["Egress"],
      egress: [{ to: [{ podSelector: { matchLabels: { [COMPONENT_LABEL]: "license-proxy" } } }], ports: [{ protocol: "TCP", port: LICENSE_PROXY_PORT }] }],
    });
  }
}
