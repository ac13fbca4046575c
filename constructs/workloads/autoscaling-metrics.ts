import type { IIoK8sApiCoreV1Affinity } from "kubernetes-models/v1/Affinity";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { IService } from "kubernetes-models/v1/Service";
import type { IServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IIoK8sApiAppsV1DeploymentStrategy } from "kubernetes-models/apps/v1/DeploymentStrategy";
import type { IIoK8sApiCoreV1PodSpec } from "kubernetes-models/v1/PodSpec";
import type { IAPIService } from "kubernetes-models/apiregistration.k8s.io/v1/APIService";
import type { IClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import type { IClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import type { IRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import type { IRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { Manifest } from "@cdktf/provider-kubernetes/lib/manifest";
import { Token } from "cdktf";
import { Construct } from "constructs";
import { parseCidr } from "../private/cidr";
import { checkImagePinned } from "../private/image-ref";
import { NODE_LABELS } from "../private/names";
import { METRICS } from "./contract";
import { objectLabels, selectorLabels } from "./private/labels";
import { k8sObject } from "./private/manifest";
import { NamespaceRef, namespaced, namespaceRef, networkPolicy, WorkloadNamespace } from "./namespace";
import { restrictedContainerSecurityContext, restrictedPodSecurityContext, TMP_MOUNT, TMP_VOLUME } from "./private/pod-security";
import { metricsScraperNamespaceSchema } from "./settings";
import { parseProps } from "../private/validate";

/** The upstream images' users: Prometheus runs as `nobody`, prometheus-adapter as 10001 (its chart's). */
const PROMETHEUS_UID = 65534;
const ADAPTER_UID = 10001;
const PROMETHEUS_PORT = 9090;
const ADAPTER_PORT = 6443;
/** The custom metrics API the HPAs read `inference_load_ratio` from. */
export const CUSTOM_METRICS_GROUP = "custom.metrics.k8s.io";

/** Props of AutoscalingMetrics. */
export interface AutoscalingMetricsProps {
  /** Prometheus (quay.io/prometheus/prometheus) from the environment's private registry, pinned. */
  readonly prometheusImage: string;
  /** prometheus-adapter (registry.k8s.io/prometheus-adapter/prometheus-adapter) from the private registry, pinned. */
  readonly adapterImage: string;
  /** The scrape job and alert rules (Monitoring's): what Prometheus scrapes and evaluates. */
  readonly scrapeConfig: { readonly scrape_configs: readonly object[] };
  readonly alertRules: object;
  /** Namespaces whose pods Prometheus scrapes: it gets a Role to list pods in each, and egress to them. */
  readonly scrapeNamespaces: readonly (NamespaceRef | string)[];
  /** The namespace both run in, created here: the metrics scraper the other namespaces' policies admit. Default `monitoring`. */
  readonly namespace?: string;
  /**
   * Where the Kubernetes API server is reached on 443 (Prometheus' pod discovery, the adapter's API
   * calls) and where the API server calls the adapter from: the cluster's VPC CIDR (its private
   * endpoint's interfaces) and its service CIDR (the `kubernetes` Service).
   */
  readonly apiCidrs: string[];
  /** How long Prometheus keeps samples on its pod-local volume. Default 24h: the longest rule window is 1h. */
  readonly retention?: string;
}

/**
 * What the inference HPAs scale on, in the cluster: a Prometheus that scrapes the annotated pods
 * (Monitoring's scrape job) and evaluates the alert rules, and prometheus-adapter, which serves the
 * server's `inference_load_ratio{lane}` through the custom metrics API (an APIService). Both use core
 * Kubernetes kinds only, so the workloads stack plans on a fresh cluster (KEDA's ScaledObject, an
 * alternative, needs its CRD to exist at plan time). Resource metrics (CPU) come from the
 * metrics-server add-on; when this pipeline is down the HPAs still scale up on CPU.
 *
 * One replica each: a lost pod costs the HPA its custom metric for the minute it takes to come back,
 * and the HPA then acts on CPU alone. Prometheus keeps its data on an emptyDir (it holds only what the
 * HPA and the alert rules read; long-term metrics belong in the platform's own monitoring). No
 * Alertmanager: the rules' alerts are read from Prometheus' API or federated by the platform's.
 * The APIService skips TLS verification of the adapter's self-signed certificate, as the upstream
 * chart does without cert-manager: its traffic stays inside the VPC, admitted by NetworkPolicy from
 * the API server's addresses only.
 */
export class AutoscalingMetrics extends Construct {
  /** The in-cluster URL of Prometheus. */
  readonly prometheusUrl: string;
  readonly namespace: WorkloadNamespace;
  readonly prometheus: Manifest;
  readonly adapter: Manifest;

  constructor(scope: Construct, id: string, props: AutoscalingMetricsProps) {
    super(scope, id);
    const where = this.node.path;
    checkImagePinned(props.prometheusImage, `${where} prometheusImage`);
    checkImagePinned(props.adapterImage, `${where} adapterImage`);
    if (props.apiCidrs.length === 0) throw new Error(`${where} apiCidrs: expected the Kubernetes API server's CIDRs (the VPC and the service CIDR)`);
    props.apiCidrs.forEach((c) => {
      if (Token.isUnresolved(c)) return;
      const cidr = parseCidr(c);
      if (cidr === undefined || cidr.prefix === 0) throw new Error(`${where} apiCidrs: expected IPv4 CIDRs narrower than 0.0.0.0/0, found "${c}"`);
    });
    const name = parseProps(metricsScraperNamespaceSchema, props.namespace, `${where} namespace`);
    this.namespace = new WorkloadNamespace(this, "namespace", { name });
    const ns = this.namespace;
    const scraped = props.scrapeNamespaces.map((n) => namespaceRef(n));
    this.prometheusUrl = `http://prometheus.${name}.svc:${PROMETHEUS_PORT}`;
    const api = props.apiCidrs.map((cidr) => ({ ipBlock: { cidr } }));
    const onSystemPool: IIoK8sApiCoreV1Affinity = {
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: NODE_LABELS.role, operator: "In", values: ["system"] }] }] } },
    };

    // Prometheus: reads pods in the scraped namespaces only (a Role in each), scrapes them, evaluates the rules.
    const promLabels = objectLabels("prometheus", "monitoring");
    const promSelector = selectorLabels("prometheus", "monitoring");
    const promAccount: IServiceAccount = { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "prometheus", labels: promLabels } };
    namespaced(this, "prometheus-service-account", ns, promAccount);
    scraped.forEach((target, i) => {
      const role: IRole = {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: "voice-selfhost-prometheus", labels: promLabels },
        rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }],
      };
      namespaced(this, `prometheus-role-${i}`, target, role);
      const binding: IRoleBinding = {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: "voice-selfhost-prometheus", labels: promLabels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "voice-selfhost-prometheus" },
        subjects: [{ kind: "ServiceAccount", name: "prometheus", namespace: name }],
      };
      namespaced(this, `prometheus-role-binding-${i}`, target, binding);
    });
    const config = {
      global: { scrape_interval: "15s", evaluation_interval: "30s" },
      rule_files: ["/etc/prometheus/rules/*.yaml"],
      scrape_configs: props.scrapeConfig.scrape_configs,
    };
    const configMap = (id: string, cmName: string, file: string, content: object) => {
      const cm: IConfigMap = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: cmName, labels: promLabels }, data: { [file]: JSON.stringify(content, null, 2) } };
      namespaced(this, id, ns, cm);
    };
    configMap("prometheus-config", "prometheus-config", "prometheus.yml", config);
    configMap("prometheus-rules", "prometheus-rules", "voice-selfhost.rules.yaml", props.alertRules);
    const promProbe = (path: string) => ({ httpGet: { path, port: "http" }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 });
    // One writer of the TSDB at a time.
    const prometheus = singleReplica(
      "prometheus",
      promLabels,
      promSelector,
      {
        serviceAccountName: "prometheus",
        enableServiceLinks: false,
        securityContext: restrictedPodSecurityContext(PROMETHEUS_UID),
        affinity: onSystemPool,
        containers: [
          {
            name: "prometheus",
            image: props.prometheusImage,
            args: [
              "--config.file=/etc/prometheus/config/prometheus.yml",
              "--storage.tsdb.path=/prometheus",
              `--storage.tsdb.retention.time=${props.retention ?? "24h"}`,
              `--web.listen-address=:${PROMETHEUS_PORT}`,
            ],
            ports: [{ name: "http", containerPort: PROMETHEUS_PORT, protocol: "TCP" }],
            resources: { requests: { cpu: "250m", memory: "1Gi" }, limits: { memory: "2Gi" } },
            readinessProbe: promProbe("/-/ready"),
            livenessProbe: { ...promProbe("/-/healthy"), initialDelaySeconds: 30 },
            securityContext: restrictedContainerSecurityContext(PROMETHEUS_UID),
            volumeMounts: [
              { name: "config", mountPath: "/etc/prometheus/config", readOnly: true },
              { name: "rules", mountPath: "/etc/prometheus/rules", readOnly: true },
              { name: "data", mountPath: "/prometheus" },
            ],
          },
        ],
        volumes: [
          { name: "config", configMap: { name: "prometheus-config" } },
          { name: "rules", configMap: { name: "prometheus-rules" } },
          { name: "data", emptyDir: { sizeLimit: "4Gi" } },
        ],
      },
      { type: "Recreate" }
    );
    this.prometheus = namespaced(this, "prometheus", ns, prometheus);
    const promService: IService = {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "prometheus", labels: promLabels },
      spec: { type: "ClusterIP", selector: promSelector, ports: [{ name: "http", port: PROMETHEUS_PORT, targetPort: "http", protocol: "TCP" }] },
    };
    namespaced(this, "prometheus-service", ns, promService);

    // prometheus-adapter: serves the custom metrics API from Prometheus, for the HPA controller.
    const adapterLabels = objectLabels("prometheus-adapter", "monitoring");
    const adapterSelector = selectorLabels("prometheus-adapter", "monitoring");
    const adapterAccount: IServiceAccount = { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "prometheus-adapter", labels: adapterLabels } };
    namespaced(this, "adapter-service-account", ns, adapterAccount);
    const adapterSubject = [{ kind: "ServiceAccount", name: "prometheus-adapter", namespace: name }];
    const clusterBinding = (id: string, bindingName: string, role: string, subjects = adapterSubject) => {
      const binding: IClusterRoleBinding = {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: bindingName, labels: adapterLabels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
        subjects,
      };
      k8sObject(this, id, binding);
    };
    // Delegated authentication and authorization of the API server's requests, as every aggregated API server does.
    clusterBinding("adapter-auth-delegator", "voice-selfhost-prometheus-adapter:auth-delegator", "system:auth-delegator");
    const authReader: IRoleBinding = {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "voice-selfhost-prometheus-adapter-auth-reader", labels: adapterLabels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "extension-apiserver-authentication-reader" },
      subjects: adapterSubject,
    };
    namespaced(this, "adapter-auth-reader", namespaceRef("kube-system"), authReader);
    // To map a metric's namespace and pod labels to Kubernetes objects.
    const resourceReader: IClusterRole = {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "voice-selfhost-prometheus-adapter-resource-reader", labels: adapterLabels },
      rules: [{ apiGroups: [""], resources: ["namespaces", "pods", "services"], verbs: ["get", "list", "watch"] }],
    };
    k8sObject(this, "adapter-resource-reader", resourceReader);
    clusterBinding("adapter-resource-reader-binding", "voice-selfhost-prometheus-adapter-resource-reader", "voice-selfhost-prometheus-adapter-resource-reader");
    // The HPA controller reads the metrics it serves.
    const metricsReader: IClusterRole = {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "voice-selfhost-custom-metrics-reader", labels: adapterLabels },
      rules: [{ apiGroups: [CUSTOM_METRICS_GROUP], resources: ["*"], verbs: ["get", "list", "watch"] }],
    };
    k8sObject(this, "custom-metrics-reader", metricsReader);
    clusterBinding("custom-metrics-reader-hpa", "voice-selfhost-custom-metrics-reader:hpa", "voice-selfhost-custom-metrics-reader", [
      { kind: "ServiceAccount", name: "horizontal-pod-autoscaler", namespace: "kube-system" },
    ]);
    // Only the inference pods' load ratio, by pod and namespace (the scrape job's labels); the HPA's selector picks the lane.
    const adapterConfig = {
      rules: [
        {
          seriesQuery: `${METRICS.loadRatio}{namespace!="",pod!=""}`,
          resources: { overrides: { namespace: { resource: "namespace" }, pod: { resource: "pod" } } },
          name: { matches: `^${METRICS.loadRatio}$`, as: METRICS.loadRatio },
          metricsQuery: "max by (<<.GroupBy>>) (<<.Series>>{<<.LabelMatchers>>})",
        },
      ],
    };
    const adapterConfigMap: IConfigMap = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "prometheus-adapter", labels: adapterLabels },
      data: { "config.yaml": JSON.stringify(adapterConfig, null, 2) },
    };
    namespaced(this, "adapter-config", ns, adapterConfigMap);
    const adapterProbe = { httpGet: { path: "/healthz", port: "https", scheme: "HTTPS" as const }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 };
    const adapter = singleReplica("prometheus-adapter", adapterLabels, adapterSelector, {
      serviceAccountName: "prometheus-adapter",
      enableServiceLinks: false,
      securityContext: restrictedPodSecurityContext(ADAPTER_UID),
      affinity: onSystemPool,
      containers: [
        {
          name: "prometheus-adapter",
          image: props.adapterImage,
          args: [
            "/adapter",
            `--secure-port=${ADAPTER_PORT}`,
            // A self-signed serving certificate, made at start on the pod-local /tmp.
            "--cert-dir=/tmp/cert",
            `--prometheus-url=${this.prometheusUrl}/`,
            "--metrics-relist-interval=1m",
            "--config=/etc/adapter/config.yaml",
          ],
          ports: [{ name: "https", containerPort: ADAPTER_PORT, protocol: "TCP" }],
          resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "512Mi" } },
          readinessProbe: adapterProbe,
          livenessProbe: { ...adapterProbe, initialDelaySeconds: 30 },
          securityContext: restrictedContainerSecurityContext(ADAPTER_UID),
          volumeMounts: [TMP_MOUNT, { name: "config", mountPath: "/etc/adapter", readOnly: true }],
        },
      ],
      volumes: [TMP_VOLUME, { name: "config", configMap: { name: "prometheus-adapter" } }],
    });
    this.adapter = namespaced(this, "adapter", ns, adapter);
    const adapterService: IService = {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "prometheus-adapter", labels: adapterLabels },
      spec: { type: "ClusterIP", selector: adapterSelector, ports: [{ name: "https", port: 443, targetPort: "https", protocol: "TCP" }] },
    };
    namespaced(this, "adapter-service", ns, adapterService);
    const apiService: IAPIService = {
      apiVersion: "apiregistration.k8s.io/v1",
      kind: "APIService",
      metadata: { name: `v1beta1.${CUSTOM_METRICS_GROUP}`, labels: adapterLabels },
      spec: {
        group: CUSTOM_METRICS_GROUP,
        version: "v1beta1",
        service: { name: "prometheus-adapter", namespace: name, port: 443 },
        insecureSkipTLSVerify: true,
        groupPriorityMinimum: 100,
        versionPriority: 100,
      },
    };
    k8sObject(this, "api-service", apiService, [this.adapter]);

    networkPolicy(this, ns, "prometheus-egress", {
      podSelector: { matchLabels: promSelector },
      policyTypes: ["Egress"],
      egress: [
        // The pods it scrapes (their own policies admit this namespace to their metrics ports only).
        { to: [{ namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: scraped.map((n) => n.name) }] } }] },
        { to: api, ports: [{ protocol: "TCP", port: 443 }] },
      ],
    });
    networkPolicy(this, ns, "prometheus-ingress", {
      podSelector: { matchLabels: promSelector },
      policyTypes: ["Ingress"],
      ingress: [{ from: [{ podSelector: { matchLabels: adapterSelector } }], ports: [{ protocol: "TCP", port: PROMETHEUS_PORT }] }],
    });
    networkPolicy(this, ns, "prometheus-adapter", {
      podSelector: { matchLabels: adapterSelector },
      policyTypes: ["Ingress", "Egress"],
      // The API server reaches aggregated API servers from its interfaces in the VPC.
      ingress: [{ from: api, ports: [{ protocol: "TCP", port: ADAPTER_PORT }] }],
      egress: [
        { to: [{ podSelector: { matchLabels: promSelector } }], ports: [{ protocol: "TCP", port: PROMETHEUS_PORT }] },
        { to: api, ports: [{ protocol: "TCP", port: 443 }] },
      ],
    });
  }
}

/** A one-replica Deployment of the monitoring component on the system pool: both pieces of the pipeline are one. */
function singleReplica(name: string, labels: Record<string, string>, selector: Record<string, string>, spec: IIoK8sApiCoreV1PodSpec, strategy?: IIoK8sApiAppsV1DeploymentStrategy): IDeployment {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, labels },
    spec: { replicas: 1, strategy, selector: { matchLabels: selector }, template: { metadata: { labels }, spec } },
  };
}
