/** AutoscalingMetrics: the in-cluster Prometheus and prometheus-adapter the inference HPAs scale through, as the workloads stacks deploy them. */
import { find, KubeObj, kubeObjects, StackJson, validateKubeObject } from "./support";
import { stockStacks } from "../support/stock-synth";
import { AutoscalingMetrics } from "../../constructs/workloads";
import { testStack } from "../support/synth";

let stacks: Record<string, StackJson>;
beforeAll(() => (stacks = stockStacks<StackJson>()));

/** The metrics namespace, what is in it, and the cluster-wide objects of the monitoring component (RBAC, the APIService). */
const monitoringObjects = (env: string): KubeObj[] =>
  kubeObjects(stacks[`${env}-workloads`]).filter(
    (o) => o.metadata.namespace === "monitoring" || o.metadata.name === "monitoring" || (!o.metadata.namespace && o.metadata.labels?.["app.kubernetes.io/component"] === "monitoring"),
  );

describe.each(["dev", "prod", "airgapped"])("%s-workloads", (env) => {
  test("every object validates against the Kubernetes schema and uses core kinds only (no CRD, so a fresh cluster plans)", () => {
    const objects = monitoringObjects(env);
    for (const o of objects) expect(() => validateKubeObject(o)).not.toThrow();
    const builtIn = ["v1", "apps/v1", "networking.k8s.io/v1", "rbac.authorization.k8s.io/v1", "apiregistration.k8s.io/v1"];
    expect(objects.filter((o) => !builtIn.includes(o.apiVersion)).map((o) => `${o.apiVersion} ${o.kind}`)).toEqual([]);
    expect(objects.map((o) => o.kind)).toEqual(expect.arrayContaining(["Namespace", "Deployment", "APIService", "ClusterRole", "ConfigMap", "Service"]));
  });

  test("Prometheus scrapes with Monitoring's job and evaluates its rules, reading pods only in the namespaces it scrapes", () => {
    const objects = monitoringObjects(env);
    const config = JSON.parse(find(objects, "ConfigMap", "prometheus-config")[0].data!["prometheus.yml"]);
    expect(config.rule_files).toEqual(["/etc/prometheus/rules/*.yaml"]);
    expect(config.scrape_configs.map((j: { job_name: string }) => j.job_name)).toEqual(["voice-selfhost-pods"]);
    const scraped = config.scrape_configs[0].kubernetes_sd_configs[0].namespaces.names as string[];
    const roles = find(kubeObjects(stacks[`${env}-workloads`]), "Role", "voice-selfhost-prometheus");
    expect(roles.map((r) => r.metadata.namespace).sort()).toEqual([...scraped].sort());
    for (const role of roles) expect((role as any).rules).toEqual([{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }]);
    const rules = JSON.parse(find(objects, "ConfigMap", "prometheus-rules")[0].data!["voice-selfhost.rules.yaml"]);
    expect(rules.groups.map((g: { name: string }) => g.name)).toEqual(["voice-selfhost-license", "voice-selfhost-inference"]);
    const prometheus = find(objects, "Deployment", "prometheus")[0].spec.template.spec;
    // From the private registry (an output of the infra stack), pinned by digest.
    expect(prometheus.containers[0].image).toMatch(/^\$\{data\.terraform_remote_state\.[^}]+repo-prometheus_[^}]+repository_url\}@sha256:[0-9a-f]{64}$/);
    expect(prometheus.containers[0].securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
  });

  test("prometheus-adapter serves only the load ratio, by pod, to the HPA controller, through the custom metrics APIService", () => {
    const objects = monitoringObjects(env);
    const config = JSON.parse(find(objects, "ConfigMap", "prometheus-adapter")[0].data!["config.yaml"]);
    expect(config.rules).toEqual([
      expect.objectContaining({ seriesQuery: 'inference_load_ratio{namespace!="",pod!=""}', resources: { overrides: { namespace: { resource: "namespace" }, pod: { resource: "pod" } } } }),
    ]);
    const [apiService] = find(objects, "APIService", "v1beta1.custom.metrics.k8s.io");
    expect(apiService.spec).toMatchObject({ group: "custom.metrics.k8s.io", service: { name: "prometheus-adapter", namespace: "monitoring", port: 443 } });
    const hpaBinding = find(kubeObjects(stacks[`${env}-workloads`]), "ClusterRoleBinding", "voice-selfhost-custom-metrics-reader:hpa")[0] as any;
    expect(hpaBinding.subjects).toEqual([{ kind: "ServiceAccount", name: "horizontal-pod-autoscaler", namespace: "kube-system" }]);
    const adapter = find(objects, "Deployment", "prometheus-adapter")[0].spec.template.spec.containers[0];
    expect(adapter.args).toContain("--prometheus-url=http://prometheus.monitoring.svc:9090/");
  });

  test("network: Prometheus reaches the scraped namespaces and the API server; only the adapter reaches Prometheus; only the API server's addresses reach the adapter", () => {
    const policies = Object.fromEntries(find(monitoringObjects(env), "NetworkPolicy").map((p) => [p.metadata.name, p.spec]));
    expect(policies["default-deny"]).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
    expect(policies["prometheus-ingress"].ingress).toEqual([
      { from: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": "prometheus-adapter", "app.kubernetes.io/component": "monitoring" } } }], ports: [{ protocol: "TCP", port: 9090 }] },
    ]);
    const adapterIngress = policies["prometheus-adapter"].ingress[0];
    expect(adapterIngress.ports).toEqual([{ protocol: "TCP", port: 6443 }]);
    expect(JSON.stringify(adapterIngress)).not.toContain("0.0.0.0/0");
  });
});

test("refuses unpinned images and an open API CIDR", () => {
  const { stack } = testStack();
  const props = { prometheusImage: "quay.io/prometheus/prometheus:v3.5.0", adapterImage: "registry.k8s.io/prometheus-adapter/prometheus-adapter:v0.12.0", scrapeConfig: { scrape_configs: [] }, alertRules: {}, scrapeNamespaces: ["voice-selfhost"], apiCidrs: ["10.0.0.0/16"] };
  expect(() => new AutoscalingMetrics(stack, "a", { ...props, adapterImage: "registry.k8s.io/prometheus-adapter/prometheus-adapter:latest" })).toThrow(/adapterImage/);
  expect(() => new AutoscalingMetrics(stack, "b", { ...props, apiCidrs: ["0.0.0.0/0"] })).toThrow(/apiCidrs: expected IPv4 CIDRs narrower than 0\.0\.0\.0\/0/);
  expect(() => new AutoscalingMetrics(stack, "c", { ...props, apiCidrs: [] })).toThrow(/apiCidrs: expected the Kubernetes API server's CIDRs/);
});
