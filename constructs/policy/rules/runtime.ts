/**
 * Rules about how a deployed system behaves, beyond how it is configured: autoscalers that can read
 * their metrics, GPU nodes the autoscaler launches once, rollouts that drain, stateful pods that
 * survive a lost zone, and logs that outlive their node. Each reads only the stack it checks; where the
 * other stack holds a fact (the load balancer's health check), the construct writes it on the object.
 */
import { AUTOSCALER_TAG_PREFIX, GPU_RESOURCE, GPU_TAINT, GPU_USE_ANNOTATIONS, NODE_LABELS } from "../../private/names";
import { DRAIN_MARGIN_SECONDS, KUBE_PROXY_HEALTH_PATH, TARGET_HEALTH_CHECK_ANNOTATION, TargetHealthCheck, unhealthyAfterSeconds } from "../../shared/drain";
import { blocks, containersOf, describe, isTrue, K8sObject, references, StackView, TfResource, valueAt, WORKLOAD_SELECTORS } from "../stack-view";
import { PolicyContext, PolicyRule } from "../types";
import { environmentOf, namespaceOf, pod, selectedWorkloads } from "./k8s";

function declaredHealthCheck(service: K8sObject): TargetHealthCheck | undefined {
  const raw = (service.metadata.annotations as Record<string, string> | undefined)?.[TARGET_HEALTH_CHECK_ANNOTATION];
  if (!raw) return undefined;
  try {
    const check = JSON.parse(raw) as Partial<TargetHealthCheck>;
    const ok = ["intervalSeconds", "healthyThreshold", "unhealthyThreshold"].every((k) => Number.isFinite(check[k as keyof TargetHealthCheck]));
    return ok ? (check as TargetHealthCheck) : undefined;
  } catch {
    return undefined;
  }
}

/** What is wrong with how one workload behind a load-balanced Service leaves it, against the load balancer's health check. */
function drainProblems(workload: TfResource, check: TargetHealthCheck, stack: StackView): string[] {
  const spec = pod(workload);
  const object = workload.object!;
  const problems: string[] = [];
  const detect = unhealthyAfterSeconds(check);
  const grace = Number(spec.terminationGracePeriodSeconds ?? 30);
  const minReady = Number(valueAt(object, ["spec", "minReadySeconds"]) ?? 0);
  if (minReady < check.intervalSeconds * check.healthyThreshold) {
    problems.push(`minReadySeconds ${minReady} < ${check.intervalSeconds} s x ${check.healthyThreshold} (the NLB marks a new node healthy only then, so a rollout may remove the last target it sends to)`);
  }
  for (const c of containersOf(spec, { includeInit: false })) {
    const preStop = Number(valueAt(c, ["lifecycle", "preStop", "sleep", "seconds"]) ?? 0);
    if (preStop < detect + DRAIN_MARGIN_SECONDS) {
      problems.push(`container ${c.name}: preStop sleep ${preStop} s < ${check.intervalSeconds} s x ${check.unhealthyThreshold} + ${DRAIN_MARGIN_SECONDS} s (the NLB keeps sending new connections that long after the pod starts terminating)`);
    }
    const env = environmentOf(c, namespaceOf(object), stack);
    const shutdown = env.SHUTDOWN_GRACE_MS !== undefined ? Number(env.SHUTDOWN_GRACE_MS) / 1000 : undefined;
    const timeout = env.REQUEST_TIMEOUT_MS !== undefined ? Number(env.REQUEST_TIMEOUT_MS) / 1000 : undefined;
    if (shutdown !== undefined && timeout !== undefined && shutdown <= timeout) {
      problems.push(`container ${c.name}: SHUTDOWN_GRACE_MS (${shutdown} s) is not longer than REQUEST_TIMEOUT_MS (${timeout} s): a request in progress at SIGTERM is cut off`);
    }
    if (grace <= preStop + (shutdown ?? 0)) {
      problems.push(`terminationGracePeriodSeconds ${grace} <= preStop ${preStop} s + shutdown grace ${shutdown ?? 0} s: the kubelet kills the server before it has finished`);
    }
  }
  return problems;
}

/** A node group of GPU nodes: the NVIDIA AMI or the GPU taint. */
function isGpuNodeGroup(group: TfResource): boolean {
  const ami = String(group.values.ami_type ?? "");
  return /NVIDIA|GPU/.test(ami) || blocks(group.values.taint).some((t) => t.key === GPU_TAINT.key);
}

/** The execution providers the inference server's engines are set to (STT_PROVIDER, TTS_PROVIDER); empty for other programs. */
function engineProviders(workload: TfResource, stack: StackView): string[] {
  return containersOf(pod(workload), { includeInit: false }).flatMap((c) => {
    const env = environmentOf(c, namespaceOf(workload.object!), stack);
    return ["STT_PROVIDER", "TTS_PROVIDER"].filter((k) => env[k] !== undefined).map((k) => `${k}=${env[k]}`);
  });
}

/** The EKS add-ons of the stack that name `cluster` (by reference or by its literal name). */
function addonsOf(cluster: TfResource, stack: StackView): string[] {
  return stack
    .ofType("aws_eks_addon")
    .filter((a) => references(a.values.cluster_name, cluster) || a.values.cluster_name === cluster.values.name)
    .map((a) => String(a.values.addon_name));
}

/** Which API group serves each HPA metric type: resource metrics come from metrics-server (the infra stack's add-on), the rest from an adapter. */
const METRIC_APIS: Record<string, string | undefined> = { Pods: "custom.metrics.k8s.io", Object: "custom.metrics.k8s.io", External: "external.metrics.k8s.io" };

/** The remote state a reference string reads (`${data.terraform_remote_state.<name>.outputs...}`), if any. */
function remoteStateOf(value: unknown): string | undefined {
  return typeof value === "string" ? /data\.terraform_remote_state\.([A-Za-z0-9_-]+)\./.exec(value)?.[1] : undefined;
}

/** The log groups the CloudWatch observability add-on ships container logs to. */
const CONTAINER_LOG_GROUP = /^\/aws\/containerinsights\/[^/]+\/application$/;

export const runtimeRules: PolicyRule[] = [
  {
    id: "VS-EKS-006",
    title: "The cluster serves resource metrics (metrics-server)",
    rationale: "EKS ships no metrics-server: without it every HPA resource target (CPU, memory) reports ScalingActive=False, `kubectl top` fails, and the HPA sits at minReplicas.",
    fix: "Install the metrics-server EKS add-on, pinned (GpuCluster does, from the EKS version table).",
    appliesTo: ["aws_eks_cluster"],
    check: (cluster: TfResource, { stack }: PolicyContext) => (addonsOf(cluster, stack).includes("metrics-server") ? [] : ["no metrics-server add-on: HPAs cannot read CPU or memory"]),
  },
  {
    id: "VS-K8S-012",
    title: "Every HPA metric has a metrics API in the stack to answer it",
    rationale:
      "An HPA on a Pods, Object or External metric needs an APIService for custom.metrics.k8s.io or external.metrics.k8s.io (an adapter such as prometheus-adapter); without one the HPA reports ScalingActive=False and never scales on it.",
    fix: "Deploy a metrics adapter with its APIService in the same stack (AutoscalingMetrics does: prometheus-adapter reading the in-cluster Prometheus), or scale on resource metrics only.",
    appliesTo: ["k8s:HorizontalPodAutoscaler"],
    check: (hpa: TfResource, { stack }: PolicyContext) => {
      const served = new Set(stack.ofKind("APIService").map((a) => String(valueAt(a.object, ["spec", "group"]) ?? "")));
      const metrics = blocks(valueAt(hpa.object, ["spec", "metrics"]));
      return metrics
        .map((m) => ({ type: String(m.type), api: METRIC_APIS[String(m.type)] }))
        .filter((m): m is { type: string; api: string } => m.api !== undefined && !served.has(m.api))
        .map((m) => `a ${m.type} metric needs ${m.api}, which no APIService in the stack serves`);
    },
  },
  {
    id: "VS-EKS-009",
    title: "Node groups of the system pool (zonal volumes) span one availability zone each",
    rationale:
      "An EBS volume attaches only in its zone. With one node group across zones the cluster autoscaler cannot add a node in the zone a stateful pod must return to (AWS: one node group per zone for EBS-backed StatefulSets), so the license proxy that gates serving can stay Pending after a lost node.",
    fix: "Split the system pool into one node group per zone (GpuCluster does), and run the autoscaler with --balance-similar-node-groups.",
    appliesTo: "stack",
    relevantTo: ["aws_eks_node_group"],
    check: ({ stack }: PolicyContext) =>
      stack
        .ofType("aws_eks_node_group")
        .filter((g) => (g.values.labels as Record<string, unknown> | undefined)?.[NODE_LABELS.role] === "system")
        .filter((g) => !Array.isArray(g.values.subnet_ids) || g.values.subnet_ids.length !== 1)
        .map((g) => ({ path: g.path, address: g.address, message: `system node group spans ${Array.isArray(g.values.subnet_ids) ? g.values.subnet_ids.length : "an unknown number of"} subnets (zones)` })),
  },
  {
    id: "VS-K8S-014",
    title: "Replicas with their own volumes are spread across zones, strictly",
    rationale:
      "A StatefulSet's volumes are zonal: two replicas in one zone both stop when that zone goes, and the license proxies gate every request. ScheduleAnyway lets the scheduler put them together.",
    fix: "Add a topologySpreadConstraint on topology.kubernetes.io/zone with maxSkew 1 and whenUnsatisfiable DoNotSchedule.",
    appliesTo: ["k8s:StatefulSet"],
    check: (set: TfResource) => {
      const replicas = Number(valueAt(set.object, ["spec", "replicas"]) ?? 1);
      const claims = blocks(valueAt(set.object, ["spec", "volumeClaimTemplates"]));
      if (replicas < 2 || claims.length === 0) return [];
      const spread = blocks(pod(set).topologySpreadConstraints).some((c) => c.topologyKey === "topology.kubernetes.io/zone" && c.whenUnsatisfiable === "DoNotSchedule" && Number(c.maxSkew) === 1);
      return spread ? [] : [`${replicas} replicas with zonal volumes and no strict zone spread (topology.kubernetes.io/zone, DoNotSchedule)`];
    },
  },
  {
    id: "VS-K8S-015",
    title: "Retained volumes are encrypted with a key that outlives the cluster's stack",
    rationale:
      "A StorageClass that retains its volumes keeps billing and usage data after the cluster is gone; if its key lives in the stack that holds the cluster, destroying that stack schedules the key's deletion and the retained volumes become unreadable.",
    fix: "Encrypt with a key from a stack of its own (RetainedDataKey in `<env>-data`), or with the account's AWS-managed EBS key (no kmsKeyId).",
    appliesTo: ["k8s:StorageClass"],
    check: (sc: TfResource, { stack }: PolicyContext) => {
      if (sc.object!.reclaimPolicy !== "Retain") return [];
      const key = valueAt(sc.object, ["parameters", "kmsKeyId"]);
      if (key === undefined) return [];
      const clusterState = remoteStateOf(valueAt(stack.document.provider, ["kubernetes", "host"]));
      const keyState = remoteStateOf(key);
      return keyState !== undefined && keyState === clusterState ? [`its kmsKeyId comes from the same stack as the cluster (${keyState}): a destroy of that stack deletes the key of the retained volumes`] : [];
    },
  },
  {
    id: "VS-EKS-010",
    title: "Container logs are shipped to an encrypted CloudWatch log group with retention",
    rationale: "Pod output, access logs included, lives on the node's disk and is lost with the node; a shipped log group without a customer key or retention is readable by anyone with logs access and kept forever.",
    fix: "Install the amazon-cloudwatch-observability add-on and create /aws/containerinsights/<cluster>/application (and host, dataplane, performance) first, with kms_key_id and retention_in_days (GpuCluster does).",
    appliesTo: ["aws_eks_cluster"],
    check: (cluster: TfResource, { stack }: PolicyContext) => {
      const problems: string[] = [];
      if (!addonsOf(cluster, stack).includes("amazon-cloudwatch-observability")) problems.push("no log shipper: the amazon-cloudwatch-observability add-on is not installed");
      const groups = stack.ofType("aws_cloudwatch_log_group").filter((g) => CONTAINER_LOG_GROUP.test(String(g.values.name ?? "")));
      if (groups.length === 0) problems.push("no container log group (/aws/containerinsights/<cluster>/application) created with a key and retention: the shipper would create one with neither");
      for (const g of groups) if (g.values.kms_key_id === undefined || g.values.retention_in_days === undefined) problems.push(`log group ${String(g.values.name)} lacks kms_key_id or retention_in_days`);
      return problems;
    },
  },
  {
    id: "VS-K8S-016",
    title: "Pods that hold a GPU run an engine that can use it",
    rationale:
      "A GPU node costs several times a CPU node. An engine set to auto falls back to the CPU when the image's onnxruntime has no CUDA provider, and cpu never uses one: the pod holds, and its pool bills, a GPU nothing uses.",
    fix: "Run the engines on CPU nodes (provider cpu), build and declare a CUDA image (workloads.image.cudaRuntime), state workloads.<service>.cpuEnginesOnGpu with a reason, or acknowledge the finding.",
    appliesTo: WORKLOAD_SELECTORS,
    check: (workload: TfResource, { stack }: PolicyContext) => {
      const holdsGpu = containersOf(pod(workload), { includeInit: true }).some((c) => valueAt(c.resources, ["limits", GPU_RESOURCE]) !== undefined || valueAt(c.resources, ["requests", GPU_RESOURCE]) !== undefined);
      const providers = engineProviders(workload, stack);
      if (!holdsGpu || providers.length === 0) return [];
      const annotations = (valueAt(workload.object, ["spec", "template", "metadata", "annotations"]) ?? {}) as Record<string, string>;
      if (annotations[GPU_USE_ANNOTATIONS.cpuEnginesOnGpu]) return [];
      if (providers.some((p) => p.endsWith("=cuda"))) return [];
      const cuda = annotations[GPU_USE_ANNOTATIONS.cudaRuntime] === "true";
      if (cuda && providers.some((p) => p.endsWith("=auto"))) return [];
      return [`requests ${GPU_RESOURCE} but its engines run on the CPU (${providers.join(", ")}; the image ${cuda ? "has" : "declares no"} CUDA runtime)`];
    },
  },
  {
    id: "VS-EKS-007",
    title: "GPU node groups carry the autoscaler's accelerator label, on the nodes and in the scale-from-zero template",
    rationale:
      "A GPU node is Ready before the device plugin advertises its GPUs; without k8s.amazonaws.com/accelerator the cluster autoscaler sees a node that cannot fit the pending GPU pod and launches another one (its AWS README). Scaling from zero it reads the label from the node-template tag.",
    fix: `Label the node group ${NODE_LABELS.accelerator}=<gpu> and tag it ${AUTOSCALER_TAG_PREFIX}/node-template/label/${NODE_LABELS.accelerator} with the same value (NodePool does both from the pool's GPU).`,
    appliesTo: ["aws_eks_node_group"],
    check: (group: TfResource) => {
      if (!isGpuNodeGroup(group)) return [];
      const label = (group.values.labels as Record<string, unknown> | undefined)?.[NODE_LABELS.accelerator];
      const tag = (group.values.tags as Record<string, unknown> | undefined)?.[`${AUTOSCALER_TAG_PREFIX}/node-template/label/${NODE_LABELS.accelerator}`];
      const problems: string[] = [];
      if (typeof label !== "string" || label === "") problems.push(`GPU node group without the label ${NODE_LABELS.accelerator}`);
      if (tag !== label) problems.push(`its scale-from-zero template tag for ${NODE_LABELS.accelerator} is ${tag === undefined ? "missing" : `"${String(tag)}"`}, not the label's value`);
      return problems;
    },
  },
  {
    id: "VS-K8S-013",
    title: "Pods behind the load balancer drain before they stop serving, and terminate after they finish",
    rationale:
      "With instance targets the NLB sends new connections to a node until interval x unhealthy threshold after its health check starts failing; a pod that stops serving sooner drops them (503s, timeouts), and a kubelet that kills the server sooner than its shutdown grace cuts requests off.",
    fix: "Declare the load balancer's health check on the Service (annotation voice-selfhost.io/target-health-check) and derive preStop, termination grace and minReadySeconds from it (constructs/shared/drain.ts: drainTiming).",
    appliesTo: ["k8s:Service"],
    check: (service: TfResource, { stack }: PolicyContext) => {
      const spec = (service.object!.spec ?? {}) as { type?: string; externalTrafficPolicy?: string };
      if (!["NodePort", "LoadBalancer"].includes(spec.type ?? "") || spec.externalTrafficPolicy !== "Local") return [];
      const workloads = selectedWorkloads(service.object!, stack.ofKind("Deployment", "StatefulSet"));
      if (workloads.length === 0) return [];
      const check = declaredHealthCheck(service.object!);
      if (!check) return [`${describe(service)} is load-balanced on its node ports but declares no load balancer health check (${TARGET_HEALTH_CHECK_ANNOTATION}): its pods' drain cannot be shown to outlast it`];
      return workloads.flatMap((w) => drainProblems(w, check, stack).map((p) => `${describe(w)}: ${p}`));
    },
  },
  {
    id: "VS-LB-003",
    title: "Instance target groups check kube-proxy's health-check node port and let connections drain",
    rationale:
      "A health check on the traffic port reaches whichever pod kube-proxy picks and keeps passing while a node's only pod terminates; kube-proxy's health-check node port fails at once while kube-proxy still routes to the terminating pod, so the NLB drains the node first. Resetting connections to an unhealthy target would cut live sessions the pod is still finishing.",
    fix: `Set the health check to HTTP on the Service's healthCheckNodePort, path ${KUBE_PROXY_HEALTH_PATH}, and target_health_state.enable_unhealthy_connection_termination = false (InternalLoadBalancer does both).`,
    appliesTo: ["aws_lb_target_group"],
    check: (group: TfResource) => {
      if ((group.values.target_type ?? "instance") !== "instance" || !["TCP", "TLS", "TCP_UDP"].includes(String(group.values.protocol ?? ""))) return [];
      const problems: string[] = [];
      const port = String(valueAt(group.values, ["health_check", "port"]) ?? "traffic-port");
      const path = valueAt(group.values, ["health_check", "path"]);
      if (port === "traffic-port" || path !== KUBE_PROXY_HEALTH_PATH) problems.push(`health check ${String(path ?? "(TCP)")} on ${port}, not kube-proxy's ${KUBE_PROXY_HEALTH_PATH} on the health-check node port`);
      const termination = valueAt(group.values, ["target_health_state", "enable_unhealthy_connection_termination"]);
      if (termination === undefined || isTrue(termination)) problems.push("connections to an unhealthy target are reset (target_health_state.enable_unhealthy_connection_termination is not false)");
      return problems;
    },
  },
  {
    id: "VS-LB-004",
    title: "No target group is attached to an EKS managed node group's Auto Scaling group",
    rationale:
      "EKS managed node groups have no target-group setting; attaching one to the group's Auto Scaling group is outside what EKS manages (aws/containers-roadmap#709, open): EKS does not wait for the target group when it replaces nodes, and a node group that EKS recreates loses the attachment until the next apply.",
    fix: "Register targets another way (the AWS Load Balancer Controller's TargetGroupBinding, or a self-managed Auto Scaling group), or acknowledge it with how replacement and drain are covered.",
    appliesTo: ["aws_autoscaling_attachment"],
    check: (attachment: TfResource, { stack }: PolicyContext) => {
      const groups = stack.ofType("aws_eks_node_group").filter((g) => String(attachment.values.autoscaling_group_name ?? "").includes(`${g.address}.`));
      return groups.map((g) => `attaches a target group to the Auto Scaling group of managed node group ${g.path}`);
    },
  },
];
