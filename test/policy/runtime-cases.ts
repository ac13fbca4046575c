/** Rule-table cases of the runtime rules (constructs/policy/rules/runtime.ts): each fires on a non-compliant stack, quiet on a compliant one. */
import { JsonObject } from "../../constructs/policy";
import { TARGET_HEALTH_CHECK_ANNOTATION } from "../../constructs/shared";
import { Case, connected, container, defaultDeny, deployment, k8s, Resources } from "./fixtures";

const workloads = (extra: Resources["kubernetes_manifest"]): Resources => ({ kubernetes_manifest: { deny: defaultDeny(), ...extra } });

const check = { intervalSeconds: 10, timeoutSeconds: 5, healthyThreshold: 2, unhealthyThreshold: 2 };
/** A Deployment behind a node-port Service, with the drain settings given. */
function behindLoadBalancer(drain: { preStop?: number; grace?: number; minReady?: number; shutdownMs?: string; timeoutMs?: string; annotate?: boolean }): Resources {
  const app = deployment("app", {
    containers: [
      container({
        envFrom: [{ configMapRef: { name: "app-config" } }],
        ...(drain.preStop !== undefined ? { lifecycle: { preStop: { sleep: { seconds: drain.preStop } } } } : {}),
      }),
    ],
    pod: { terminationGracePeriodSeconds: drain.grace ?? 30 },
  });
  ((app.manifest as JsonObject).spec as JsonObject).minReadySeconds = drain.minReady ?? 0;
  return workloads({
    app,
    config: k8s({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "app-config", namespace: "voice" }, data: { SHUTDOWN_GRACE_MS: drain.shutdownMs ?? "65000", REQUEST_TIMEOUT_MS: drain.timeoutMs ?? "60000" } }),
    svc: k8s({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "app", namespace: "voice", ...(drain.annotate === false ? {} : { annotations: { [TARGET_HEALTH_CHECK_ANNOTATION]: JSON.stringify(check) } }) },
      spec: { type: "LoadBalancer", externalTrafficPolicy: "Local", selector: { app: "app" }, ports: [{ port: 8080, nodePort: 30080 }] },
    }),
  });
}
const drained = { preStop: 30, grace: 100, minReady: 30 };

const targetGroup = (extra: JsonObject = {}): Resources => ({
  aws_lb_target_group: {
    tg: { target_type: "instance", protocol: "TCP", port: 30080, health_check: { protocol: "HTTP", port: "30090", path: "/healthz" }, target_health_state: [{ enable_unhealthy_connection_termination: false }], ...extra },
  },
});

const accelerator = "k8s.amazonaws.com/accelerator";
const gpuGroup = (labels: JsonObject, tags: JsonObject): Resources => ({
  aws_eks_node_group: { gpu: { ami_type: "AL2023_x86_64_NVIDIA", taint: [{ key: "nvidia.com/gpu", value: "true", effect: "NO_SCHEDULE" }], labels, tags } },
});

/** An inference Deployment holding a GPU, its engines set as given, with the pod annotations given. */
function gpuServer(providers: { STT_PROVIDER: string; TTS_PROVIDER: string }, annotations: JsonObject = {}, gpu = true): Resources {
  const app = deployment("inference", {
    containers: [container({ envFrom: [{ configMapRef: { name: "inference-config" } }], resources: { limits: { memory: "8Gi", ...(gpu ? { "nvidia.com/gpu": "1" } : {}) }, requests: { cpu: "2", memory: "4Gi" } } })],
  });
  (((app.manifest as JsonObject).spec as JsonObject).template as JsonObject).metadata = { labels: { app: "inference" }, annotations };
  return workloads({ app, config: k8s({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "inference-config", namespace: "voice" }, data: providers }) });
}

const eks = { aws_eks_cluster: { eks: { name: "c" } } };
const addon = (name: string) => ({ [name]: { cluster_name: "${aws_eks_cluster.eks.name}", addon_name: name } });
const hpa = (metrics: JsonObject[]) =>
  k8s({ apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", metadata: { name: "app", namespace: "voice" }, spec: { scaleTargetRef: { kind: "Deployment", name: "app" }, minReplicas: 2, maxReplicas: 4, metrics } });
const podsMetric = { type: "Pods", pods: { metric: { name: "inference_load_ratio" }, target: { type: "AverageValue", averageValue: "800m" } } };
const cpuMetric = { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } };
const apiService = (group: string) => k8s({ apiVersion: "apiregistration.k8s.io/v1", kind: "APIService", metadata: { name: `v1beta1.${group}` }, spec: { group, version: "v1beta1", service: { name: "adapter", namespace: "monitoring" } } });
const systemGroup = (subnets: string[]) => ({ aws_eks_node_group: { sys: { labels: { "voice-selfhost.io/node-role": "system" }, subnet_ids: subnets } } });
const statefulSet = (spread: JsonObject[]) =>
  workloads({
    proxy: k8s({
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: { name: "license-proxy", namespace: "voice" },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: "p" } },
        template: { metadata: { labels: { app: "p" } }, spec: { containers: [container()], topologySpreadConstraints: spread } },
        volumeClaimTemplates: [{ metadata: { name: "state" }, spec: { accessModes: ["ReadWriteOnce"] } }],
      },
    }),
  });
const zoneSpread = (whenUnsatisfiable: string) => ({ maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable, labelSelector: { matchLabels: { app: "p" } } });
/** A workloads stack whose cluster comes from `infra`'s state, with a retaining StorageClass keyed from `keyStack`'s. */
const storageClass = (keyStack: string | undefined, reclaimPolicy = "Retain"): Resources => ({
  kubernetes_manifest: {
    sc: k8s({
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: { name: "gp3" },
      provisioner: "ebs.csi.aws.com",
      reclaimPolicy,
      parameters: { type: "gp3", encrypted: "true", ...(keyStack ? { kmsKeyId: `\${data.terraform_remote_state.${keyStack}.outputs.key_arn}` } : {}) },
    }),
  },
});
const logGroup = (extra: JsonObject = {}) => ({ app: { name: "/aws/containerinsights/c/application", kms_key_id: "${aws_kms_key.k.arn}", retention_in_days: 365, ...extra } });

export const RUNTIME_CASES: Record<string, { fail: Case[]; pass: Case[] }> = {
  "VS-EKS-006": {
    fail: [connected({ ...eks, aws_eks_addon: addon("coredns") })],
    pass: [connected({ ...eks, aws_eks_addon: { ...addon("coredns"), ...addon("metrics-server") } })],
  },
  "VS-K8S-012": {
    fail: [connected(workloads({ hpa: hpa([podsMetric, cpuMetric]) })), connected(workloads({ hpa: hpa([podsMetric]), api: apiService("external.metrics.k8s.io") }))],
    pass: [connected(workloads({ hpa: hpa([podsMetric, cpuMetric]), api: apiService("custom.metrics.k8s.io") })), connected(workloads({ hpa: hpa([cpuMetric]) }))],
  },
  "VS-EKS-009": {
    fail: [connected(systemGroup(["${aws_subnet.a.id}", "${aws_subnet.b.id}", "${aws_subnet.c.id}"])), connected(systemGroup("${var.subnets}" as unknown as string[]))],
    pass: [connected(systemGroup(["${aws_subnet.a.id}"])), connected({ aws_eks_node_group: { gpu: { labels: { "voice-selfhost.io/node-role": "gpu" }, subnet_ids: ["a", "b"] } } })],
  },
  "VS-K8S-014": {
    fail: [connected(statefulSet([zoneSpread("ScheduleAnyway")])), connected(statefulSet([]))],
    pass: [connected(statefulSet([zoneSpread("DoNotSchedule")]))],
  },
  "VS-K8S-015": {
    fail: [{ resources: storageClass("infra"), provider: { kubernetes: [{ host: "${data.terraform_remote_state.infra.outputs.endpoint}" }] } }],
    pass: [
      { resources: storageClass("data"), provider: { kubernetes: [{ host: "${data.terraform_remote_state.infra.outputs.endpoint}" }] } },
      { resources: storageClass(undefined), provider: { kubernetes: [{ host: "${data.terraform_remote_state.infra.outputs.endpoint}" }] } },
    ],
  },
  "VS-EKS-010": {
    fail: [
      connected({ ...eks, aws_eks_addon: addon("metrics-server") }),
      connected({ ...eks, aws_eks_addon: addon("amazon-cloudwatch-observability") }),
      connected({ ...eks, aws_eks_addon: addon("amazon-cloudwatch-observability"), aws_cloudwatch_log_group: logGroup({ kms_key_id: undefined as unknown as string }) }),
    ],
    pass: [connected({ ...eks, aws_eks_addon: addon("amazon-cloudwatch-observability"), aws_cloudwatch_log_group: logGroup() })],
  },
  "VS-K8S-016": {
    fail: [
      // main before issue 22: prod's Whisper on auto, on a GPU, with the CPU-only image.
      connected(gpuServer({ STT_PROVIDER: "auto", TTS_PROVIDER: "cpu" })),
      connected(gpuServer({ STT_PROVIDER: "auto", TTS_PROVIDER: "cpu" }, { "voice-selfhost.io/cuda-runtime": "false" })),
      connected(gpuServer({ STT_PROVIDER: "cpu", TTS_PROVIDER: "cpu" }, { "voice-selfhost.io/cuda-runtime": "true" })),
    ],
    pass: [
      connected(gpuServer({ STT_PROVIDER: "auto", TTS_PROVIDER: "cpu" }, { "voice-selfhost.io/cuda-runtime": "true" })),
      connected(gpuServer({ STT_PROVIDER: "cuda", TTS_PROVIDER: "cpu" }, { "voice-selfhost.io/cuda-runtime": "true" })),
      connected(gpuServer({ STT_PROVIDER: "cpu", TTS_PROVIDER: "cpu" }, { "voice-selfhost.io/cpu-engines-on-gpu": "dev rehearses the GPU node path on purpose" })),
      connected(gpuServer({ STT_PROVIDER: "cpu", TTS_PROVIDER: "cpu" }, {}, false)),
    ],
  },
  "VS-EKS-007": {
    fail: [
      connected(gpuGroup({ "voice-selfhost.io/gpu-model": "A10G" }, {})),
      connected(gpuGroup({ [accelerator]: "nvidia-a10g" }, {})),
      connected(gpuGroup({ [accelerator]: "nvidia-a10g" }, { [`k8s.io/cluster-autoscaler/node-template/label/${accelerator}`]: "nvidia-l4" })),
    ],
    pass: [
      connected(gpuGroup({ [accelerator]: "nvidia-a10g" }, { [`k8s.io/cluster-autoscaler/node-template/label/${accelerator}`]: "nvidia-a10g" })),
      connected({ aws_eks_node_group: { system: { ami_type: "AL2023_x86_64_STANDARD", labels: {} } } }),
    ],
  },
  "VS-K8S-013": {
    fail: [
      // main before issue 22: a 15 s preStop against a 10 s x 3 health check, and nothing declared.
      connected(behindLoadBalancer({ preStop: 15, grace: 330, annotate: false })),
      connected(behindLoadBalancer({ ...drained, preStop: 20 })),
      connected(behindLoadBalancer({ ...drained, grace: 90 })),
      connected(behindLoadBalancer({ ...drained, minReady: 0 })),
      connected(behindLoadBalancer({ ...drained, shutdownMs: "60000" })),
    ],
    pass: [connected(behindLoadBalancer(drained))],
  },
  "VS-LB-003": {
    fail: [
      connected(targetGroup({ health_check: { protocol: "HTTP", port: "traffic-port", path: "/health/ready" } })),
      connected(targetGroup({ target_health_state: undefined as unknown as JsonObject })),
    ],
    pass: [connected(targetGroup()), connected({ aws_lb_target_group: { ip: { target_type: "ip", protocol: "TCP", health_check: { port: "traffic-port" } } } })],
  },
  "VS-LB-004": {
    fail: [
      connected({
        aws_eks_node_group: { ng: { cluster_name: "c" } },
        aws_autoscaling_attachment: { a: { autoscaling_group_name: "${aws_eks_node_group.ng.resources[0].autoscaling_groups[0].name}", lb_target_group_arn: "tg" } },
      }),
    ],
    pass: [connected({ aws_autoscaling_group: { asg: { max_size: 2, min_size: 1 } }, aws_autoscaling_attachment: { a: { autoscaling_group_name: "${aws_autoscaling_group.asg.name}", lb_target_group_arn: "tg" } } })],
  },
};
