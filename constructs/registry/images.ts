/**
 * Every container image the stacks run: the one list the registry, the mirror manifest and the
 * workloads derive from. Upstream images are pinned by digest where a published digest was found
 * (the source is noted); an entry without one is pinned by tag and the mirror manifest says to
 * resolve the digest at copy time. EKS managed add-ons (vpc-cni, coredns, kube-proxy, the Pod
 * Identity agent, the EBS CSI driver) are not listed: their images come from AWS's regional ECR
 * registries, reached through the same ECR and S3 endpoints.
 */
import { clusterAutoscalerImage, DEFAULT_KUBERNETES_VERSION } from "../cluster/versions";
import { INFERENCE_IMAGE_VERSION } from "../workloads/contract";

/** One container image the stacks run, as IMAGES lists it. */
export interface ImageSpec {
  /** ECR repository name under the registry's prefix. */
  readonly repository: string;
  /** The tag pushed to ECR (immutable there): the upstream tag, or our release version. */
  readonly tag: string;
  /** Upstream repository, e.g. `nvcr.io/nvidia/k8s-device-plugin`; absent for images built here. */
  readonly upstream?: string;
  /** `sha256:...` of the upstream image index/manifest; undefined when no published digest was found. */
  readonly digest: string | undefined;
  /** Where the digest was read, so a reviewer can check it. */
  readonly digestSource?: string;
  /** Build context in this repository, for images we build. */
  readonly build?: string;
  readonly purpose: string;
}

export const IMAGES = {
  inferenceServer: {
    repository: "inference-server",
    tag: INFERENCE_IMAGE_VERSION,
    digest: undefined,
    build: "inference-image",
    purpose: "the inference server and the license proxy (one image, two entry points)",
  },
  nvidiaDevicePlugin: {
    repository: "nvidia/k8s-device-plugin",
    upstream: "nvcr.io/nvidia/k8s-device-plugin",
    tag: "v0.17.1",
    digest: "sha256:af31e2b7c7f89834c4e5219860def7ac2e49a207b3d4e8610d5a26772b7738e5",
    digestSource: "public manifests pinning nvcr.io/nvidia/k8s-device-plugin:v0.17.1@sha256:af31e2b7...",
    purpose: "advertises nvidia.com/gpu on GPU nodes",
  },
  dcgmExporter: {
    repository: "nvidia/dcgm-exporter",
    upstream: "nvcr.io/nvidia/k8s/dcgm-exporter",
    tag: "4.5.3-4.8.2-distroless",
    digest: "sha256:60d3b00ac80b4ae77f94dae2f943685605585ad9e92fdccda3154d009ae317cc",
    digestSource: "public Go source pinning nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless@sha256:60d3b00a...",
    purpose: "GPU utilization and memory metrics for Prometheus",
  },
  // Its minor must be the cluster's: the version table (constructs/cluster/versions.ts) holds one per minor; PrivateRegistry's kubernetesVersion picks it.
  clusterAutoscaler: clusterAutoscalerImage(DEFAULT_KUBERNETES_VERSION),
  prometheus: {
    repository: "prometheus/prometheus",
    upstream: "quay.io/prometheus/prometheus",
    tag: "v3.5.0",
    digest: "sha256:63805ebb8d2b3920190daf1cb14a60871b16fd38bed42b857a3182bc621f4996",
    digestSource: "a public CI gate pinning quay.io/prometheus/prometheus:v3.5.0@sha256:63805ebb... (the 3.5 long-term-support line)",
    purpose: "scrapes the pods and evaluates the alert rules in the cluster; what the autoscaler's metrics adapter reads",
  },
  prometheusAdapter: {
    repository: "prometheus-adapter/prometheus-adapter",
    upstream: "registry.k8s.io/prometheus-adapter/prometheus-adapter",
    tag: "v0.12.0",
    // No published digest found for v0.12.0: the mirror manifest says to resolve it at copy time; ECR's immutable tag pins it from then on.
    digest: undefined,
    purpose: "serves inference_load_ratio to the HPAs through the custom metrics API (custom.metrics.k8s.io)",
  },
  awsCli: {
    repository: "aws-cli/aws-cli",
    upstream: "public.ecr.aws/aws-cli/aws-cli",
    tag: "2.31.23",
    digest: "sha256:668ffb01408e03e1002b36886797c1a97b09f7d0f02fba3123f9fcd68a081dc5",
    digestSource: "public Dockerfile check pinning public.ecr.aws/aws-cli/aws-cli:2.31.23@sha256:668ffb01...",
    purpose: 'the model-sync init containers: `aws s3 sync` from the model bucket (workloads.models.source "s3")',
  },
} as const satisfies Record<string, ImageSpec>;

/** The key of an image in IMAGES (e.g. `nvidiaDevicePlugin`). */
export type ImageKey = keyof typeof IMAGES;

/** `upstream:tag@digest` (or `upstream:tag` when no digest is pinned); undefined for images built here. */
export function upstreamReference(image: ImageSpec): string | undefined {
  if (!image.upstream) return undefined;
  return `${image.upstream}:${image.tag}${image.digest ? `@${image.digest}` : ""}`;
}
