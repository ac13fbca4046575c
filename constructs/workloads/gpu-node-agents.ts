import type { IDaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import type { IService } from "kubernetes-models/v1/Service";
import type { IIoK8sApiCoreV1Affinity } from "kubernetes-models/v1/Affinity";
import type { IIoK8sApiCoreV1Toleration } from "kubernetes-models/v1/Toleration";
import { Construct } from "constructs";
import type { ClusterRefs } from "../cluster/types";
import { GPU_TAINT, NODE_LABELS } from "../private/names";
import { acknowledgePolicy } from "../policy/enforce";
import { DCGM_EXPORTER_PORT, METRICS_PATH } from "./contract";
import { checkImagePinned } from "../private/image-ref";
import { objectLabels, selectorLabels } from "./private/labels";
import { namespaced, networkPolicy, scraperIngress, WorkloadNamespace } from "./namespace";

/** Props of GpuNodeAgents: the two images, from the private registry. */
export interface GpuNodeAgentsProps {
  /** The NVIDIA device plugin image, from the environment's private registry, pinned. */
  readonly devicePluginImage: string;
  /** The DCGM exporter image, from the environment's private registry, pinned. */
  readonly dcgmExporterImage: string;
  /**
   * The cluster (GpuCluster or ExistingCluster): the device plugin runs on its GPU pools on AL2023
   * NVIDIA AMIs. Bottlerocket's NVIDIA variants run the device plugin on the host; a second one
   * would register the GPUs twice.
   */
  readonly cluster?: Pick<ClusterRefs, "gpuPoolSpecs">;
  /** GPU pools that need the device plugin DaemonSet, when no `cluster` says so. Default: every GPU node. */
  readonly devicePluginPools?: string[];
  /** Default `voice-selfhost-gpu`. */
  readonly namespace?: string;
  /** The namespace of the Prometheus allowed to scrape the DCGM exporter. Default `monitoring`. */
  readonly metricsScraperNamespace?: string;
}

const GPU_TOLERATION: IIoK8sApiCoreV1Toleration = { key: GPU_TAINT.key, operator: "Exists", effect: GPU_TAINT.effect };

/**
 * The node agents GPU nodes need: the NVIDIA device plugin (advertises `nvidia.com/gpu` to the
 * scheduler) and the DCGM exporter (GPU utilisation and memory for the dashboard).
 *
 * They live in their own namespace with a documented Pod Security exception: `privileged` is
 * enforced there because both mount kubelet host paths (the device plugin registers through a
 * socket in /var/lib/kubelet/device-plugins, which only root may write; the exporter reads
 * /var/lib/kubelet/pod-resources and needs SYS_ADMIN for profiling counters). Audit and warn stay at
 * `restricted`, so the deviations are reported, and nothing else runs in that namespace. Neither
 * needs the network except the exporter's metrics port, so the namespace denies everything else.
 */
export class GpuNodeAgents extends Construct {
  readonly namespace: WorkloadNamespace;

  constructor(scope: Construct, id: string, props: GpuNodeAgentsProps) {
    super(scope, id);
    checkImagePinned(props.devicePluginImage, `${this.node.path} devicePluginImage`);
    checkImagePinned(props.dcgmExporterImage, `${this.node.path} dcgmExporterImage`);
    this.namespace = new WorkloadNamespace(this, "namespace", {
      name: props.namespace ?? "voice-selfhost-gpu",
      enforce: "privileged",
      exceptionReason:
        "NVIDIA device plugin and DCGM exporter: node agents that mount kubelet host paths (device-plugins socket, pod-resources) and run as root",
    });
    const ns = this.namespace;
    const gpuNodes = (pools?: string[]): IIoK8sApiCoreV1Affinity => ({
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            { matchExpressions: pools ? [{ key: NODE_LABELS.pool, operator: "In", values: pools }] : [{ key: NODE_LABELS.role, operator: "In", values: ["gpu"] }] },
          ],
        },
      },
    });

    const devicePluginPools = props.devicePluginPools ?? props.cluster?.gpuPoolSpecs.filter((p) => p.amiType === "AL2023_x86_64_NVIDIA").map((p) => p.name);
    if (devicePluginPools === undefined || devicePluginPools.length > 0) {
      const name = "nvidia-device-plugin";
      const selector = selectorLabels(name, "gpu-device-plugin");
      const ds: IDaemonSet = {
        apiVersion: "apps/v1",
        kind: "DaemonSet",
        metadata: { name, labels: objectLabels(name, "gpu-device-plugin") },
        spec: {
          selector: { matchLabels: selector },
          updateStrategy: { type: "RollingUpdate" },
          template: {
            metadata: { labels: objectLabels(name, "gpu-device-plugin") },
            spec: {
              priorityClassName: "system-node-critical",
              automountServiceAccountToken: false,
              enableServiceLinks: false,
              tolerations: [GPU_TOLERATION],
              affinity: gpuNodes(devicePluginPools),
              securityContext: { seccompProfile: { type: "RuntimeDefault" } },
              containers: [
                {
                  name: "device-plugin",
                  image: props.devicePluginImage,
                  env: [{ name: "FAIL_ON_INIT_ERROR", value: "false" }],
                  resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "200m", memory: "256Mi" } },
                  // Root only to write its socket into the kubelet's directory; no capabilities, no escalation.
                  securityContext: { runAsNonRoot: false, runAsUser: 0, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
                  volumeMounts: [{ name: "device-plugins", mountPath: "/var/lib/kubelet/device-plugins" }],
                },
              ],
              volumes: [{ name: "device-plugins", hostPath: { path: "/var/lib/kubelet/device-plugins", type: "Directory" } }],
            },
          },
        },
      };
      const plugin = namespaced(this, "device-plugin", ns, ds);
      acknowledgePolicy(plugin, "VS-K8S-001", "the device plugin must run as root to create its socket in the kubelet's root-owned device-plugins directory");
      acknowledgePolicy(plugin, "VS-K8S-008", "the device plugin registers with the kubelet through a socket in the host path /var/lib/kubelet/device-plugins");
      acknowledgePolicy(plugin, "VS-K8S-002", "security context kept exactly as NVIDIA ships it; the plugin writes only its socket, in the host path");
      acknowledgePolicy(plugin, "VS-K8S-004", "the device plugin serves no health endpoint; the kubelet drops its GPUs when the socket goes away");
    }

    const name = "dcgm-exporter";
    const selector = selectorLabels(name, "gpu-metrics");
    const labels = objectLabels(name, "gpu-metrics");
    const health = { httpGet: { path: "/health", port: "metrics" }, periodSeconds: 15, timeoutSeconds: 3, failureThreshold: 3 };
    const exporter: IDaemonSet = {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name, labels },
      spec: {
        selector: { matchLabels: selector },
        updateStrategy: { type: "RollingUpdate" },
        template: {
          metadata: {
            labels,
            annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": String(DCGM_EXPORTER_PORT), "prometheus.io/path": METRICS_PATH },
          },
          spec: {
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            tolerations: [GPU_TOLERATION],
            affinity: gpuNodes(),
            securityContext: { seccompProfile: { type: "RuntimeDefault" } },
            containers: [
              {
                name: "exporter",
                image: props.dcgmExporterImage,
                env: [
                  { name: "DCGM_EXPORTER_LISTEN", value: `:${DCGM_EXPORTER_PORT}` },
                  // Label each GPU's metrics with the pod using it (read from the kubelet's pod-resources socket).
                  { name: "DCGM_EXPORTER_KUBERNETES", value: "true" },
                  // Watch every GPU of the node without requesting one (requesting would take it from inference pods).
                  { name: "NVIDIA_VISIBLE_DEVICES", value: "all" },
                ],
                ports: [{ name: "metrics", containerPort: DCGM_EXPORTER_PORT, protocol: "TCP" }],
                resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "500m", memory: "512Mi" } },
                startupProbe: { ...health, periodSeconds: 5, failureThreshold: 24 },
                readinessProbe: health,
                livenessProbe: health,
                securityContext: {
                  runAsNonRoot: false,
                  runAsUser: 0,
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ["ALL"], add: ["SYS_ADMIN"] },
                },
                volumeMounts: [
                  { name: "pod-resources", mountPath: "/var/lib/kubelet/pod-resources", readOnly: true },
                  { name: "tmp", mountPath: "/tmp" },
                ],
              },
            ],
            volumes: [
              { name: "pod-resources", hostPath: { path: "/var/lib/kubelet/pod-resources", type: "Directory" } },
              { name: "tmp", emptyDir: { sizeLimit: "256Mi" } },
            ],
          },
        },
      },
    };
    const exporterObject = namespaced(this, "dcgm-exporter", ns, exporter);
    acknowledgePolicy(exporterObject, "VS-K8S-001", "DCGM reads GPU profiling counters as root with SYS_ADMIN, as NVIDIA ships the exporter");
    acknowledgePolicy(exporterObject, "VS-K8S-008", "the exporter maps GPUs to pods through the kubelet's pod-resources socket, read-only host path");
    const service: IService = {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, labels },
      spec: { type: "ClusterIP", selector, ports: [{ name: "metrics", port: DCGM_EXPORTER_PORT, targetPort: "metrics", protocol: "TCP" }] },
    };
    namespaced(this, "dcgm-service", ns, service);

    networkPolicy(this, ns, "dcgm-exporter-scrape", {
      podSelector: { matchLabels: selector },
      policyTypes: ["Ingress"],
      ingress: [
        scraperIngress(props.metricsScraperNamespace, DCGM_EXPORTER_PORT),
      ],
    });
  }
}
