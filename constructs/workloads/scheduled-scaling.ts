import type { IServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import type { ICronJob } from "kubernetes-models/batch/v1/CronJob";
import type { IRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import type { IRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { Token } from "cdktf";
import { Construct } from "constructs";
import { parseCidr } from "../private/cidr";
import { checkImagePinned } from "../private/image-ref";
import { NODE_LABELS } from "../private/names";
import { parseProps } from "../private/validate";
import { IMAGE_COMMANDS } from "./contract";
import { objectLabels, selectorLabels } from "./private/labels";
import { NamespaceRef, namespaced, namespaceRef, networkPolicy } from "./namespace";
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from "./private/pod-security";
import { ScaleToZeroSettings, ScaleToZeroSettingsInput, scaleToZeroSettingsSchema } from "./settings";

const NAME = "inference-scaler";

/** A Deployment the schedule takes to zero, and the count it comes back to (its HPA's minReplicas). */
export interface ScheduledDeployment {
  readonly name: string;
  readonly minReplicas: number;
}

/** Props of ScheduledScaling. */
export interface ScheduledScalingProps {
  /** Default: the existing namespace `voice-selfhost`. The Deployments must be in it. */
  readonly namespace?: NamespaceRef | string;
  /** The inference image (it carries the scaling program), pinned by immutable tag or digest. */
  readonly image: string;
  /** The inference Deployments: `InferenceService.name` and its `settings.replicas.min`. */
  readonly deployments: readonly ScheduledDeployment[];
  /** When to go to zero and when to come back, and in which time zone. */
  readonly schedule: ScaleToZeroSettingsInput;
  /** Where the Kubernetes API server is reached on 443: the cluster's VPC CIDR (private endpoint) and its service CIDR (the `kubernetes` Service). */
  readonly apiCidrs: string[];
}

/**
 * Scale to zero on a schedule, for environments that may be off outside working hours: one CronJob sets
 * every inference Deployment to 0 replicas at `down`, another raises each back to its minimum at `up`.
 *
 * Why a schedule: behind the NLB a Deployment at zero has no pod to report the load that would wake it, and
 * an HPA cannot go to zero on EKS (HPAScaleToZero is alpha); the wake-up has to come from outside the pods.
 * KEDA's cron scaler would do the same through CRDs and three more images to mirror; two CronJobs of core
 * kinds run the image already in the registry and plan with the rest of the workloads stack.
 *
 * While a Deployment is at 0 its HPA (minReplicas >= 1) leaves it there (ScalingActive False, reason
 * ScalingDisabled) and takes over again once `up` raises it; `up` never lowers a count raised since.
 * Going to zero drains like any scale-in (preStop, then the server's shutdown grace), and the cluster
 * autoscaler then gives back the nodes left empty, GPU nodes included.
 *
 * The job's service account may only read and change the scale of the named Deployments; its pods reach
 * only the API server (and DNS).
 */
export class ScheduledScaling extends Construct {
  readonly schedule: ScaleToZeroSettings;
  /** The two CronJobs' commands, as the image runs them. */
  readonly commands: { readonly down: string[]; readonly up: string[] };

  constructor(scope: Construct, id: string, props: ScheduledScalingProps) {
    super(scope, id);
    const where = this.node.path;
    this.schedule = parseProps(scaleToZeroSettingsSchema, props.schedule, `${where} schedule`);
    checkImagePinned(props.image, `${where} image`);
    if (props.deployments.length === 0) throw new Error(`${where} deployments: expected at least one inference Deployment to scale`);
    for (const d of props.deployments) {
      if (!Number.isInteger(d.minReplicas) || d.minReplicas < 1) throw new Error(`${where} deployments: expected minReplicas >= 1 for "${d.name}" (its HPA's), found ${d.minReplicas}`);
    }
    if (props.apiCidrs.length === 0) throw new Error(`${where} apiCidrs: expected the Kubernetes API server's CIDRs (the VPC and the service CIDR)`);
    for (const c of props.apiCidrs) {
      if (Token.isUnresolved(c)) continue;
      const cidr = parseCidr(c);
      if (cidr === undefined || cidr.prefix === 0) throw new Error(`${where} apiCidrs: expected IPv4 CIDRs narrower than 0.0.0.0/0, found "${c}"`);
    }

    const ns = namespaceRef(props.namespace);
    const labels = objectLabels(NAME, "scheduled-scaling");
    const selector = selectorLabels(NAME, "scheduled-scaling");
    this.commands = {
      down: [...IMAGE_COMMANDS.scheduledScaling, ...props.deployments.flatMap((d) => ["--set", `${d.name}=0`])],
      up: [...IMAGE_COMMANDS.scheduledScaling, ...props.deployments.flatMap((d) => ["--at-least", `${d.name}=${d.minReplicas}`])],
    };

    const sa: IServiceAccount = { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: NAME, labels } };
    const serviceAccount = namespaced(this, "service-account", ns, sa);
    const role: IRole = {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: NAME, labels },
      rules: [{ apiGroups: ["apps"], resources: ["deployments/scale"], resourceNames: props.deployments.map((d) => d.name), verbs: ["get", "update"] }],
    };
    namespaced(this, "role", ns, role);
    const binding: IRoleBinding = {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: NAME, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: NAME },
      subjects: [{ kind: "ServiceAccount", name: NAME, namespace: ns.name }],
    };
    namespaced(this, "role-binding", ns, binding);

    const cronJob = (direction: "down" | "up"): ICronJob => ({
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: { name: `${NAME}-${direction}`, labels },
      spec: {
        schedule: this.schedule[direction].trim(),
        timeZone: this.schedule.timeZone,
        concurrencyPolicy: "Forbid",
        // A run missed while the controller was away (a control plane upgrade) still happens within the hour.
        startingDeadlineSeconds: 3600,
        successfulJobsHistoryLimit: 1,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
          metadata: { labels },
          spec: {
            backoffLimit: 4,
            activeDeadlineSeconds: 600,
            ttlSecondsAfterFinished: 86_400,
            template: {
              metadata: { labels: { ...labels } },
              spec: {
                serviceAccountName: NAME,
                restartPolicy: "Never",
                enableServiceLinks: false,
                securityContext: restrictedPodSecurityContext(),
                affinity: {
                  nodeAffinity: {
                    requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: NODE_LABELS.role, operator: "In", values: ["system"] }] }] },
                  },
                },
                containers: [
                  {
                    name: "scale",
                    image: props.image,
                    command: this.commands[direction],
                    resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } },
                    securityContext: restrictedContainerSecurityContext(),
                  },
                ],
              },
            },
          },
        },
      },
    });
    namespaced(this, "cron-down", ns, cronJob("down"), [serviceAccount]);
    namespaced(this, "cron-up", ns, cronJob("up"), [serviceAccount]);

    networkPolicy(this, ns, `${NAME}-egress`, {
      podSelector: { matchLabels: selector },
      policyTypes: ["Egress"],
      egress: [{ to: props.apiCidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: [{ protocol: "TCP", port: 443 }] }],
    });
  }
}
