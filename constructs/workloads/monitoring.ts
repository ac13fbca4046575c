import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Construct } from "constructs";
import { WORKLOAD_NAMESPACE } from "../private/names";
import { DCGM_METRICS, METRICS, QUEUE_FULL_REASON } from "./contract";
import { objectLabels } from "./private/labels";
import { NamespaceRef, namespaced, namespaceRef } from "./namespace";

/** Props of Monitoring; every field has a default. */
export interface MonitoringProps {
  /** Where the ConfigMaps go. Default: the existing namespace `voice-selfhost`. */
  readonly namespace?: NamespaceRef | string;
  /** Namespaces whose annotated pods the scrape job collects. Default: `voice-selfhost` and `voice-selfhost-gpu`. */
  readonly scrapeNamespaces?: string[];
  /** Alert when the p99 of a speech request is above this. Default 10 s (a long file transcribes for seconds). */
  readonly p99LatencySeconds?: number;
  /** Alert when the p95 of a speech request is above this: most callers wait too long. Default 5 s. */
  readonly p95LatencySeconds?: number;
  /** Alert, critical, when serving on the grace period stops in less than this many hours. Default 6. */
  readonly graceEndingHours?: number;
  /** Alert when more than this share of speech requests fail with a 5xx. Default 0.05. */
  readonly errorRatio?: number;
  /** Alert when a license expires within this many days. Default 14. */
  readonly licenseExpiryWarningDays?: number;
  /** Alert when the usage spool holds more than this many records and is still growing. Default 10000. */
  readonly spoolAlertDepth?: number;
}

/** Speech requests only: health, metrics and live sessions (whose duration is the whole session, a GET) are left out. */
const SPEECH = `method="POST"`;

/**
 * Monitoring as data (no CRD, so nothing depends on an operator being present): the workloads stacks'
 * own Prometheus (AutoscalingMetrics) scrapes and evaluates with it, and so can whatever Prometheus and
 * Grafana the platform team already runs:
 * - a scrape job for pods annotated `prometheus.io/scrape` (ConfigMap `voice-selfhost-scrape-config`),
 * - alert rules as a Prometheus rule file (ConfigMap `voice-selfhost-alert-rules`),
 * - a Grafana dashboard in a ConfigMap labelled `grafana_dashboard: "1"`, which Grafana's dashboard
 *   sidecar picks up (set the sidecar's search namespace to this one or ALL).
 * The files are JSON, which Prometheus' YAML loader reads as is. The "GPU pods pending" rule reads
 * kube-state-metrics; every other rule reads only what our programs and the DCGM exporter export.
 */
export class Monitoring extends Construct {
  readonly scrapeConfig: { readonly scrape_configs: object[] };
  readonly alertRules: object;
  readonly dashboard: object;

  constructor(scope: Construct, id: string, props: MonitoringProps = {}) {
    super(scope, id);
    const ns = namespaceRef(props.namespace);
    const scrapeNamespaces = props.scrapeNamespaces ?? [WORKLOAD_NAMESPACE, "voice-selfhost-gpu"];
    const p99 = props.p99LatencySeconds ?? 10;
    const p95 = props.p95LatencySeconds ?? 5;
    const graceHours = props.graceEndingHours ?? 6;
    const errorRatio = props.errorRatio ?? 0.05;
    const expiryDays = props.licenseExpiryWarningDays ?? 14;
    const spoolDepth = props.spoolAlertDepth ?? 10000;
    if (!(p99 > 0) || !(p95 > 0) || !(graceHours > 0) || !(errorRatio > 0 && errorRatio < 1) || !(expiryDays >= 1) || !(spoolDepth >= 1)) {
      throw new Error(`${this.node.path}: expected p99LatencySeconds, p95LatencySeconds and graceEndingHours > 0, 0 < errorRatio < 1, licenseExpiryWarningDays >= 1 and spoolAlertDepth >= 1`);
    }

    this.scrapeConfig = {
      scrape_configs: [
        {
          job_name: "voice-selfhost-pods",
          kubernetes_sd_configs: [{ role: "pod", namespaces: { names: scrapeNamespaces } }],
          // Pods that serve TLS (prometheus.io/scheme: https) are scraped over TLS. Prometheus holds no copy of the CA that
          // issued their certificate (the operator's or an issuer's), so it does not verify it; metrics carry no audio, text or caller.
          tls_config: { insecure_skip_verify: true },
          relabel_configs: [
            { source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_scheme"], action: "replace", target_label: "__scheme__", regex: "(https?)" },
            { source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"], action: "keep", regex: "true" },
            { source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_path"], action: "replace", target_label: "__metrics_path__", regex: "(.+)" },
            {
              source_labels: ["__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port"],
              action: "replace",
              regex: "([^:]+)(?::\\d+)?;(\\d+)",
              replacement: "$1:$2",
              target_label: "__address__",
            },
            { source_labels: ["__meta_kubernetes_namespace"], target_label: "namespace" },
            { source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod" },
            { source_labels: ["__meta_kubernetes_pod_label_app_kubernetes_io_name"], target_label: "service" },
            { source_labels: ["__meta_kubernetes_pod_node_name"], target_label: "node" },
          ],
        },
      ],
    };

    const alert = (name: string, expr: string, forDuration: string, severity: "warning" | "critical", summary: string) => ({
      alert: name,
      expr,
      for: forDuration,
      labels: { severity, service: "voice-selfhost" },
      annotations: { summary },
    });
    const requests = (filter: string) => `sum(rate(${METRICS.requestDuration}_count{${filter}}[5m]))`;
    this.alertRules = {
      groups: [
        {
          name: "voice-selfhost-license",
          rules: [
            alert(
              "LicenseGracePeriodActive",
              `max(${METRICS.graceActive}) > 0`,
              "5m",
              "warning",
              "The license server has not renewed the lease: serving on the grace period. Restore the route to the license server before it ends.",
            ),
            alert(
              "LicenseGraceEnding",
              `max(${METRICS.graceActive}) > 0 and on () (min(${METRICS.validUntil} > 0) - time() < ${graceHours * 3600})`,
              "0m",
              "critical",
              `The grace period ends in less than ${graceHours} hours: after it every speech request gets 403. Restore the route to the license server or install an offline license now.`,
            ),
            alert("LicenseExpired", `min(${METRICS.licenseValid}) == 0`, "1m", "critical", "A license proxy refuses to authorize: the license or its grace period has ended. Speech requests get 403."),
            alert(
              "LicenseProxySpoolUnwritable",
              `min(${METRICS.spoolWritable}) == 0`,
              "1m",
              "critical",
              "A license proxy cannot write its usage spool (disk full or read-only): it refuses to authorize rather than lose usage. Free or grow its volume.",
            ),
            alert(
              "LicenseExpiringSoon",
              `min(${METRICS.validUntil} > 0) - time() < ${expiryDays * 86400}`,
              "1h",
              "warning",
              `Serving stops in less than ${expiryDays} days unless the lease is renewed or a new offline license is installed.`,
            ),
            alert(
              "UsageSpoolGrowing",
              `min by (pod) (${METRICS.spoolDepth}) > ${spoolDepth} and delta(${METRICS.spoolDepth}[1h]) > 0`,
              "1h",
              "warning",
              "Usage records are piling up in a license proxy's spool: uploads are failing (online) or an export is due (offline).",
            ),
          ],
        },
        {
          name: "voice-selfhost-inference",
          rules: [
            alert(
              "InferenceErrorRateHigh",
              `${requests(`${SPEECH},status=~"5.."`)} / ${requests(SPEECH)} > ${errorRatio}`,
              "10m",
              "critical",
              `More than ${errorRatio * 100}% of speech requests fail with a server error.`,
            ),
            alert(
              "InferenceP95LatencyHigh",
              `histogram_quantile(0.95, sum by (le, route) (rate(${METRICS.requestDuration}_bucket{${SPEECH}}[5m]))) > ${p95}`,
              "10m",
              "warning",
              `The p95 latency of a speech route is above ${p95} s: most callers wait too long. Check the load ratio and whether the HPA can add pods.`,
            ),
            alert(
              "InferenceP99LatencyHigh",
              `histogram_quantile(0.99, sum by (le, route) (rate(${METRICS.requestDuration}_bucket{${SPEECH}}[5m]))) > ${p99}`,
              "10m",
              "warning",
              `The p99 latency of a speech route is above ${p99} s.`,
            ),
            alert(
              "InferenceQueueSaturated",
              `sum(rate(${METRICS.rejected}{reason="${QUEUE_FULL_REASON}"}[5m])) > 0 or avg(${METRICS.workerUtilisation}) > 0.9`,
              "10m",
              "warning",
              "Inference workers are saturated: requests wait or are refused with 429. Check that the HPA can add pods and GPU nodes.",
            ),
            alert(
              "ApiKeysReloadFailed",
              `sum(increase(${METRICS.apiKeysReloadFailures}[10m])) > 0`,
              "0m",
              "warning",
              "A changed API keys Secret did not parse: the pods keep the last good keys (new keys do not work, removed keys still do). The pods' error log names the field.",
            ),
            alert(
              "InferenceTlsReloadFailed",
              `sum(increase(${METRICS.tlsReloadFailures}[10m])) > 0`,
              "0m",
              "warning",
              "A renewed TLS certificate Secret could not be used (not PEM, or a key that does not match): the pods keep serving the last good certificate. Their error log names the files.",
            ),
            alert(
              "InferenceTlsCertificateExpiringSoon",
              `min(${METRICS.tlsCertificateExpiry}) - time() < ${expiryDays} * 86400`,
              "1h",
              "warning",
              `The certificate the inference pods serve expires within ${expiryDays} days: renew the TLS Secret (the pods pick it up without a restart).`,
            ),
            alert(
              "InferenceGpuPodsPending",
              `sum by (namespace, pod) (kube_pod_status_phase{namespace="${ns.name}",phase="Pending"}) * on (namespace, pod) group_left() ` +
                `sum by (namespace, pod) (kube_pod_container_resource_requests{namespace="${ns.name}",resource="nvidia_com_gpu"}) > 0`,
              "15m",
              "warning",
              "A GPU pod has been pending for 15 minutes: the GPU pool is at its max size, out of capacity, or the device plugin is not running.",
            ),
          ],
        },
      ],
    };

    this.dashboard = dashboard();

    const labels = objectLabels("voice-selfhost-monitoring", "monitoring");
    const configMap = (id: string, name: string, file: string, content: object, extraLabels: Record<string, string> = {}) => {
      const cm: IConfigMap = {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name, labels: { ...labels, ...extraLabels } },
        data: { [file]: JSON.stringify(content, null, 2) },
      };
      namespaced(this, id, ns, cm);
    };
    configMap("scrape-config", "voice-selfhost-scrape-config", "voice-selfhost-scrape.yaml", this.scrapeConfig);
    configMap("alert-rules", "voice-selfhost-alert-rules", "voice-selfhost.rules.yaml", this.alertRules);
    configMap("dashboard", "voice-selfhost-dashboard", "voice-selfhost.json", this.dashboard, { grafana_dashboard: "1" });
  }
}

function dashboard(): object {
  let nextId = 1;
  const panel = (title: string, unit: string, targets: [expr: string, legend: string][], x: number, y: number) => ({
    id: nextId++,
    type: "timeseries",
    title,
    datasource: { type: "prometheus", uid: "$datasource" },
    gridPos: { h: 8, w: 12, x, y },
    fieldConfig: { defaults: { unit }, overrides: [] },
    targets: targets.map(([expr, legendFormat], i) => ({ refId: String.fromCharCode(65 + i), expr, legendFormat })),
  });
  const quantile = (q: number, metric: string, by: string, filter = "") =>
    `histogram_quantile(${q}, sum by (le, ${by}) (rate(${metric}_bucket${filter ? `{${filter}}` : ""}[5m])))`;
  return {
    title: "voice-selfhost",
    uid: "voice-selfhost",
    tags: ["voice-selfhost"],
    schemaVersion: 39,
    refresh: "30s",
    time: { from: "now-6h", to: "now" },
    templating: { list: [{ name: "datasource", type: "datasource", query: "prometheus", label: "Data source" }] },
    panels: [
      panel("Latency by route (p50, p99)", "s", [
        [quantile(0.5, METRICS.requestDuration, "route", SPEECH), "p50 {{route}}"],
        [quantile(0.99, METRICS.requestDuration, "route", SPEECH), "p99 {{route}}"],
      ], 0, 0),
      panel("Real-time factor (p50, p99)", "none", [
        [quantile(0.5, METRICS.realTimeFactor, "feature"), "p50 {{feature}}"],
        [quantile(0.99, METRICS.realTimeFactor, "feature"), "p99 {{feature}}"],
      ], 12, 0),
      panel("Throughput", "reqps", [
        [`sum by (route) (rate(${METRICS.requestDuration}_count{${SPEECH}}[5m]))`, "{{route}}"],
        [`sum by (feature) (rate(${METRICS.audioSeconds}[5m]))`, "audio s/s {{feature}}"],
        [`sum(rate(${METRICS.characters}[5m]))`, "characters/s"],
      ], 0, 8),
      panel("Errors and refusals", "reqps", [
        [`sum by (status) (rate(${METRICS.requestDuration}_count{status=~"[45].."}[5m]))`, "{{status}}"],
        [`sum by (reason) (rate(${METRICS.rejected}[5m]))`, "refused: {{reason}}"],
      ], 12, 8),
      panel("GPU utilisation (DCGM)", "percent", [
        [`avg by (Hostname, gpu) (${DCGM_METRICS.gpuUtil})`, "{{Hostname}} GPU {{gpu}}"],
      ], 0, 16),
      panel("GPU memory used (DCGM)", "decmbytes", [
        [`sum by (Hostname) (${DCGM_METRICS.memoryUsed})`, "{{Hostname}} used"],
        [`sum by (Hostname) (${DCGM_METRICS.memoryFree})`, "{{Hostname}} free"],
      ], 12, 16),
      panel("In flight and queued", "short", [
        [`sum(${METRICS.inflight})`, "in flight"],
        [`sum(${METRICS.queueDepth})`, "queued"],
        [`avg(${METRICS.workerUtilisation})`, "worker utilisation"],
      ], 0, 24),
      panel("License state", "short", [
        [`min(${METRICS.licenseValid})`, "license valid"],
        [`max(${METRICS.graceActive})`, "grace period active"],
        [`(min(${METRICS.validUntil} > 0) - time()) / 86400`, "days until serving stops"],
        [`sum(${METRICS.spoolDepth})`, "usage records spooled"],
      ], 12, 24),
      // Usage per team, by team name (the metrics never carry keys): who uses what, and who is being refused.
      { id: nextId++, type: "row", title: "Teams", collapsed: false, gridPos: { h: 1, w: 24, x: 0, y: 32 }, panels: [] },
      panel("Requests by team", "reqps", [
        [`sum by (team) (rate(${METRICS.teamRequests}[5m]))`, "{{team}}"],
      ], 0, 33),
      panel("Refusals by team and reason", "reqps", [
        [`sum by (team, reason) (rate(${METRICS.teamRejected}[5m]))`, "{{team}}: {{reason}}"],
      ], 12, 33),
      panel("Audio hours per day by team", "h", [
        [`sum by (team, feature) (rate(${METRICS.teamAudioSeconds}[1h])) * 86400 / 3600`, "{{team}} {{feature}}"],
        [`sum by (team) (rate(${METRICS.teamLiveSessionSeconds}[1h])) * 86400 / 3600`, "{{team}} live session time"],
      ], 0, 41),
      panel("Characters and in flight by team", "short", [
        [`sum by (team) (rate(${METRICS.teamCharacters}[5m]))`, "{{team}} characters/s"],
        [`sum by (team) (${METRICS.teamInflight})`, "{{team}} in flight"],
      ], 12, 41),
      // What a voicebot's user feels: per turn, measured by the server from the audio's arrival.
      { id: nextId++, type: "row", title: "Turn latency", collapsed: false, gridPos: { h: 1, w: 24, x: 0, y: 49 }, panels: [] },
      panel("End of speech to final / EndOfTurn (p50, p95)", "s", [
        [quantile(0.5, METRICS.turnLatency, "route, stage", 'stage=~"speech_end_to_.*"'), "p50 {{route}} {{stage}}"],
        [quantile(0.95, METRICS.turnLatency, "route, stage", 'stage=~"speech_end_to_.*"'), "p95 {{route}} {{stage}}"],
      ], 0, 50),
      panel("First interim after onset, TTS Flush to first audio (p50, p95)", "s", [
        [quantile(0.5, METRICS.turnLatency, "route, stage", 'stage=~"onset_to_first_interim|flush_to_first_audio"'), "p50 {{route}} {{stage}}"],
        [quantile(0.95, METRICS.turnLatency, "route, stage", 'stage=~"onset_to_first_interim|flush_to_first_audio"'), "p95 {{route}} {{stage}}"],
      ], 12, 50),
      panel("End of speech to EndOfTurn by team (p95)", "s", [
        [quantile(0.95, METRICS.turnLatency, "team, route", 'stage=~"speech_end_to_.*"'), "{{team}} {{route}}"],
      ], 0, 58),
    ],
  };
}
