/**
 * Names the infra stack and the workloads stack must agree on. Kept in one place: a Pod Identity
 * association or a NodePort that names the wrong thing fails silently at run time, not at synth.
 */

/** The tag IAM grants on retained-data keys (RetainedDataKey) match on; policy rule VS-KMS-003 finds those keys by it. */
export const RETAINED_DATA_TAG = "voice-selfhost:retained-data";

/** The Kubernetes namespace of the inference server and the license proxy. */
export const WORKLOAD_NAMESPACE = "voice-selfhost";
/** Service account of the inference pods (no AWS identity: they reach only DNS and the license proxy). */
export const INFERENCE_SERVICE_ACCOUNT = "inference-server";
/** Service account of the license proxy pods. */
export const LICENSE_PROXY_SERVICE_ACCOUNT = "license-proxy";

/**
 * Fixed NodePort of each inference Service, by Service name: `inference` when STT and TTS run
 * together, `stt` and `tts` when they run apart. The internal NLB has one listener and target group
 * per Service and forwards to its NodePort on every GPU node.
 */
export const INFERENCE_NODE_PORTS = { inference: 30080, stt: 30080, tts: 30081 } as const;
/** Names an inference service may take: one combined service, or STT and TTS apart. */
/** `inference`, `stt` or `tts`: the names the inference Services and their load balancer listeners share. */
export type InferenceServiceName = keyof typeof INFERENCE_NODE_PORTS;
/** The combined inference Service's NodePort. */
export const INFERENCE_NODE_PORT = INFERENCE_NODE_PORTS.inference;
/**
 * Fixed health-check node port of each inference Service (kube-proxy serves it for a LoadBalancer Service
 * with externalTrafficPolicy Local): the target groups' health check, see shared/drain.ts.
 */
export const INFERENCE_HEALTH_CHECK_NODE_PORTS: Readonly<Record<InferenceServiceName, number>> = { inference: 30090, stt: 30090, tts: 30091 };
/**
 * The load balancer class of the inference Services: no controller implements it, so nothing in the
 * cluster creates a load balancer for them; the Service type only makes kube-proxy serve the health-check
 * node port the infra stack's NLB checks.
 */
export const INFERENCE_LOAD_BALANCER_CLASS = "voice-selfhost.io/terraform-nlb";
/** The inference server's readiness path: the NLB health check and the pods' readiness probe. */
export const INFERENCE_READINESS_PATH = "/health/ready";

/** Node labels the node groups set and the workloads select on. */
export const NODE_LABELS = {
  /** The node pool's name (`system` or a GPU pool name from config). */
  pool: "voice-selfhost.io/pool",
  /** `system` or `gpu`. */
  role: "voice-selfhost.io/node-role",
  /** GPU model, e.g. `A10G`, `L4` (GPU nodes only). */
  gpuModel: "voice-selfhost.io/gpu-model",
  /**
   * The cluster autoscaler's GPU label (its AWS provider's GPULabel): on a node that carries it, the
   * autoscaler waits for the device plugin to advertise the GPUs instead of launching another node.
   */
  accelerator: "k8s.amazonaws.com/accelerator",
} as const;

/** The taint on every GPU node: only pods that tolerate it (and request GPUs) land there. */
export const GPU_TAINT = { key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" } as const;
/**
 * Tag on each GPU node group of an environment: the inference services whose engines use the pool,
 * or "none" (policy rule VS-EKS-005 and the review's cost section read it).
 */
export const GPU_POOL_USE_TAG = "voice-selfhost:gpu-workloads";
/** Tag on a GPU node group whose services run only CPU engines there (GpuPlacement.enginesOnCpu): the review's cost section counts it idle. */
export const GPU_POOL_CPU_ENGINES_TAG = "voice-selfhost:gpu-cpu-engines";
export const GpuPoolUse = { none: "none" } as const;
/**
 * Pod annotations of the inference pods that say whether their GPU can be used: the image's CUDA runtime
 * ("true"/"false"), and the stated reason when CPU engines hold GPU nodes on purpose (policy rule VS-K8S-016).
 */
export const GPU_USE_ANNOTATIONS = { cudaRuntime: "voice-selfhost.io/cuda-runtime", cpuEnginesOnGpu: "voice-selfhost.io/cpu-engines-on-gpu" } as const;
/** The extended resource the NVIDIA device plugin advertises. */
export const GPU_RESOURCE = "nvidia.com/gpu";

/** The cluster's DNS (CoreDNS, the EKS add-on): its namespace, its pods' label and its port; every namespace of ours lets pods reach it. */
export const CLUSTER_DNS = { namespace: "kube-system", podLabels: { "k8s-app": "kube-dns" }, port: 53 } as const;

/** The EKS Pod Identity agent, on every node's link-local address: where the AWS SDK gets a pod's credentials. */
export const POD_IDENTITY_AGENT = "169.254.170.23/32";

/** The namespace and service account of the cluster autoscaler; its Pod Identity association names both. */
export const CLUSTER_AUTOSCALER_NAMESPACE = "cluster-autoscaler";
export const CLUSTER_AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler";
/** Prefix of every Cluster Autoscaler tag on an Auto Scaling group (discovery and node-template hints). */
export const AUTOSCALER_TAG_PREFIX = "k8s.io/cluster-autoscaler";

/**
 * The tags by which the cluster autoscaler discovers a cluster's Auto Scaling groups. The node pools
 * carry them, the autoscaler's `--node-group-auto-discovery` names their keys and its IAM policy
 * scopes the mutating calls to groups tagged so: all three from here, so they cannot drift apart.
 */
export function autoscalerDiscoveryTags(clusterName: string): Record<string, string> {
  return { [`${AUTOSCALER_TAG_PREFIX}/enabled`]: "true", [`${AUTOSCALER_TAG_PREFIX}/${clusterName}`]: "owned" };
}

/** EKS's rule for a cluster name: 1-100 letters, digits, hyphens or underscores, starting with a letter or digit. */
export const EKS_CLUSTER_NAME_PATTERN = /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/;
