import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import type { IClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import type { IRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import type { IRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import type { IServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { Manifest } from "@cdktf/provider-kubernetes/lib/manifest";
import { Token } from "cdktf";
import { Construct } from "constructs";
import { type ClusterRefs, kubernetesApiCidrs } from "../cluster/types";
import { parseCidr } from "../private/cidr";
import { AWS_REGION_PATTERN } from "../private/regions";
import { autoscalerDiscoveryTags, CLUSTER_AUTOSCALER_NAMESPACE, CLUSTER_AUTOSCALER_SERVICE_ACCOUNT, EKS_CLUSTER_NAME_PATTERN, NODE_LABELS, POD_IDENTITY_AGENT } from "../private/names";
import { METRICS_PATH } from "./contract";
import { checkImagePinned, parseImageReference } from "../private/image-ref";
import { minorOf } from "../cluster/versions";
import { objectLabels, selectorLabels } from "./private/labels";
import { k8sObject } from "./private/manifest";
import { namespaced, networkPolicy, scraperIngress, WorkloadNamespace } from "./namespace";
import { restrictedContainerSecurityContext, restrictedPodSecurityContext, TMP_MOUNT, TMP_VOLUME } from "./private/pod-security";

/** The upstream image's user: distroless `static:nonroot`. */
export const CLUSTER_AUTOSCALER_UID = 65532;
/** Where the autoscaler serves `/health-check` and `/metrics` (its `--address` default). */
export const CLUSTER_AUTOSCALER_PORT = 8085;

/** The service account the autoscaler runs as and its Pod Identity role (ClusterAutoscalerRole fits). */
export interface ClusterAutoscalerIdentity {
  readonly namespace: string;
  readonly serviceAccount: string;
  /** The IAM role the Pod Identity association gives the service account; recorded on it for reviewers. */
  readonly roleArn?: string;
}

/** Props of ClusterAutoscaler. */
export interface ClusterAutoscalerProps {
  /**
   * The cluster-autoscaler image from the environment's private registry, pinned. Its minor must be the
   * cluster's (the autoscaler reads the scheduler's API of its own minor): PrivateRegistry's
   * `kubernetesVersion` mirrors the version table's; a tag of another minor fails at synth.
   */
  readonly image: string;
  /**
   * The cluster it scales (GpuCluster or ExistingCluster): its literal name is in the discovery tag
   * keys; its network's VPC CIDR and its service CIDR are where the API calls go by default.
   */
  readonly cluster: Pick<ClusterRefs, "name" | "network" | "serviceCidr" | "kubernetesVersion">;
  /** The AWS region of the cluster (`AWS_REGION`). */
  readonly region: string;
  /**
   * Where the autoscaler's API calls go, all on 443: the Kubernetes API server (the VPC CIDR, which
   * holds the EKS private endpoint's interfaces, and the cluster's service CIDR, which holds the
   * `kubernetes` Service address) and the AWS APIs (the interface VPC endpoints, in the VPC CIDR).
   * The pod's only egress besides DNS and the Pod Identity agent. Default: the cluster's VPC CIDR and service CIDR.
   */
  readonly apiCidrs?: string[];
  /** Namespace and service account; default `cluster-autoscaler` for both (what ClusterAutoscalerRole associates). */
  readonly identity?: ClusterAutoscalerIdentity;
  /** The namespace of the Prometheus allowed to scrape the autoscaler. Default `monitoring`. */
  readonly metricsScraperNamespace?: string;
}

const NAME = "cluster-autoscaler";
const COMPONENT = "cluster-autoscaler";

/**
 * The Kubernetes Cluster Autoscaler for AWS: without it a node pool never leaves its minimum, so a
 * GPU pool with minSize 0 never gets a node and GPU pods stay pending. It finds the node groups by
 * their discovery tags (autoscalerDiscoveryTags, which the node pools carry) and scales them from
 * zero with the node-template tags the GPU pools carry.
 *
 * In its own namespace (Pod Security `restricted`, default deny), so its leader lease and status
 * ConfigMap sit beside it and its Role reaches nothing else. One replica: the autoscaler elects a
 * leader, a second replica would only wait. It runs on the system pool, tolerates no GPU taint, and
 * reaches only DNS, the Pod Identity agent and the API addresses in `apiCidrs` on 443. RBAC is the
 * upstream chart's, with the leader lease in the namespaced Role.
 */
export class ClusterAutoscaler extends Construct {
  readonly namespace: WorkloadNamespace;
  readonly deployment: Manifest;
  /** The autoscaler's command line (flags included), as the Deployment runs it. */
  readonly command: string[];

  constructor(scope: Construct, id: string, props: ClusterAutoscalerProps) {
    super(scope, id);
    const where = this.node.path;
    checkImagePinned(props.image, `${where} image`);
    const imageMinor = minorOf(parseImageReference(props.image).tag ?? "");
    const clusterMinor = props.cluster.kubernetesVersion;
    if (imageMinor && clusterMinor && !Token.isUnresolved(clusterMinor) && imageMinor !== clusterMinor) {
      throw new Error(`${where} image: expected a cluster-autoscaler of the cluster's minor ${clusterMinor}, found ${imageMinor} ("${props.image}"); the version table (constructs/cluster/versions.ts) names the one to mirror`);
    }
    const clusterName = props.cluster.name;
    if (!EKS_CLUSTER_NAME_PATTERN.test(clusterName)) {
      throw new Error(`${where} cluster.name: expected the EKS cluster name as a literal (1-100 letters, digits, - or _), found "${clusterName}"`);
    }
    if (!AWS_REGION_PATTERN.test(props.region)) throw new Error(`${where} region: expected an AWS region such as eu-west-1, found "${props.region}"`);
    const apiCidrs = props.apiCidrs ?? kubernetesApiCidrs(props.cluster);
    if (apiCidrs.length === 0) throw new Error(`${where} apiCidrs: expected the CIDRs of the Kubernetes API server and the AWS API endpoints (the pod's only egress)`);
    apiCidrs.forEach((c) => {
      // An existing cluster's service CIDR is read at plan; Kubernetes checks it then.
      if (Token.isUnresolved(c)) return;
      const cidr = parseCidr(c);
      if (cidr === undefined) throw new Error(`${where} apiCidrs: expected IPv4 CIDRs, found "${c}"`);
      if (cidr.prefix === 0) throw new Error(`${where} apiCidrs: ${c} opens egress to every address; name the VPC and service CIDRs`);
    });
    const identity = props.identity ?? { namespace: CLUSTER_AUTOSCALER_NAMESPACE, serviceAccount: CLUSTER_AUTOSCALER_SERVICE_ACCOUNT };

    this.namespace = new WorkloadNamespace(this, "namespace", { name: identity.namespace });
    const ns = this.namespace;
    const labels = objectLabels(NAME, COMPONENT);
    const selector = selectorLabels(NAME, COMPONENT);

    const sa: IServiceAccount = {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: {
        name: identity.serviceAccount,
        labels,
        annotations: identity.roleArn ? { "voice-selfhost.io/pod-identity-role": identity.roleArn } : undefined,
      },
    };
    namespaced(this, "service-account", ns, sa);

    const read = ["watch", "list", "get"];
    const clusterRole: IClusterRole = {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: NAME, labels },
      rules: [
        { apiGroups: [""], resources: ["events", "endpoints"], verbs: ["create", "patch"] },
        { apiGroups: [""], resources: ["pods/eviction"], verbs: ["create"] },
        { apiGroups: [""], resources: ["pods/status"], verbs: ["update"] },
        { apiGroups: [""], resources: ["endpoints"], resourceNames: [NAME], verbs: ["get", "update"] },
        { apiGroups: [""], resources: ["nodes"], verbs: ["watch", "list", "create", "delete", "get", "update"] },
        { apiGroups: [""], resources: ["namespaces", "pods", "services", "replicationcontrollers", "persistentvolumeclaims", "persistentvolumes"], verbs: read },
        { apiGroups: ["batch"], resources: ["jobs", "cronjobs"], verbs: read },
        { apiGroups: ["batch"], resources: ["jobs"], verbs: ["get", "list", "patch", "watch"] },
        { apiGroups: ["policy"], resources: ["poddisruptionbudgets"], verbs: ["watch", "list"] },
        { apiGroups: ["apps"], resources: ["daemonsets", "replicasets", "statefulsets"], verbs: read },
        { apiGroups: ["storage.k8s.io"], resources: ["storageclasses", "csinodes", "csidrivers", "csistoragecapacities", "volumeattachments"], verbs: read },
        { apiGroups: [""], resources: ["configmaps"], verbs: ["list", "watch", "get"] },
      ],
    };
    k8sObject(this, "cluster-role", clusterRole);
    const clusterRoleBinding: IClusterRoleBinding = {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: NAME, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: NAME },
      subjects: [{ kind: "ServiceAccount", name: identity.serviceAccount, namespace: identity.namespace }],
    };
    k8sObject(this, "cluster-role-binding", clusterRoleBinding);

    // Its own namespace only: the status ConfigMap and the leader lease (both follow --namespace).
    const role: IRole = {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: NAME, labels },
      rules: [
        { apiGroups: [""], resources: ["configmaps"], verbs: ["create"] },
        { apiGroups: [""], resources: ["configmaps"], resourceNames: ["cluster-autoscaler-status"], verbs: ["delete", "get", "update"] },
        { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
        { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: [NAME], verbs: ["get", "update"] },
      ],
    };
    namespaced(this, "role", ns, role);
    const roleBinding: IRoleBinding = {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: NAME, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: NAME },
      subjects: [{ kind: "ServiceAccount", name: identity.serviceAccount, namespace: identity.namespace }],
    };
    namespaced(this, "role-binding", ns, roleBinding);

    this.command = [
      "/cluster-autoscaler",
      "--cloud-provider=aws",
      `--node-group-auto-discovery=asg:tag=${Object.keys(autoscalerDiscoveryTags(clusterName)).join(",")}`,
      // The status ConfigMap and the leader lease go here (the default is kube-system).
      `--namespace=${identity.namespace}`,
      "--balance-similar-node-groups",
      "--expander=least-waste",
      "--skip-nodes-with-system-pods=false",
      // Inference pods keep only disposable data in emptyDirs (/tmp, synced models); without this a GPU node never scales down.
      "--skip-nodes-with-local-storage=false",
    ];
    const health = { httpGet: { path: "/health-check", port: "http" }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 };
    const deployment: IDeployment = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: NAME, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: selector },
        template: {
          metadata: {
            labels,
            annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": String(CLUSTER_AUTOSCALER_PORT), "prometheus.io/path": METRICS_PATH },
          },
          spec: {
            serviceAccountName: identity.serviceAccount,
            priorityClassName: "system-cluster-critical",
            enableServiceLinks: false,
            securityContext: restrictedPodSecurityContext(CLUSTER_AUTOSCALER_UID),
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [{ matchExpressions: [{ key: NODE_LABELS.role, operator: "In", values: ["system"] }] }],
                },
              },
            },
            containers: [
              {
                name: NAME,
                image: props.image,
                command: this.command,
                env: [{ name: "AWS_REGION", value: props.region }],
                ports: [{ name: "http", containerPort: CLUSTER_AUTOSCALER_PORT, protocol: "TCP" }],
                resources: { requests: { cpu: "100m", memory: "300Mi" }, limits: { memory: "600Mi" } },
                readinessProbe: health,
                livenessProbe: { ...health, initialDelaySeconds: 30 },
                securityContext: restrictedContainerSecurityContext(CLUSTER_AUTOSCALER_UID),
                volumeMounts: [TMP_MOUNT],
              },
            ],
            volumes: [TMP_VOLUME],
          },
        },
      },
    };
    this.deployment = namespaced(this, "deployment", ns, deployment);

    networkPolicy(this, ns, `${NAME}-egress`, {
      podSelector: { matchLabels: selector },
      policyTypes: ["Egress"],
      egress: [
        { to: apiCidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: [{ protocol: "TCP", port: 443 }] },
        { to: [{ ipBlock: { cidr: POD_IDENTITY_AGENT } }], ports: [{ protocol: "TCP", port: 80 }] },
      ],
    });
    networkPolicy(this, ns, `${NAME}-metrics`, {
      podSelector: { matchLabels: selector },
      policyTypes: ["Ingress"],
      ingress: [
        scraperIngress(props.metricsScraperNamespace, CLUSTER_AUTOSCALER_PORT),
      ],
    });
  }
}
