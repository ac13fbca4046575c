/**
 * The alert rules the Monitoring construct writes, run through Prometheus' own tools: every rule
 * passes `promtool check rules`, and `promtool test rules` plays the alerts that matter on synthetic
 * series (each fires when it should and stays silent when it should not): the grace period ending,
 * a proxy that cannot write its usage spool, a full work queue and a slow p95.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Monitoring } from "../../constructs/workloads";
import { describeWithPrometheus, promtool } from "../support/prometheus";
import { testStack } from "../support/synth";

interface Rule {
  alert: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

const { stack } = testStack();
const monitoring = new Monitoring(stack, "monitoring");
const rules = (monitoring.alertRules as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const work = fs.mkdtempSync(path.join(os.tmpdir(), "alert-rules-"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
// JSON is YAML: the rule file exactly as the ConfigMap carries it.
fs.writeFileSync(path.join(work, "voice-selfhost.rules.yaml"), JSON.stringify(monitoring.alertRules, null, 2));

/** The alert `name` as promtool must see it fire: the rule's labels and annotations, plus the labels its expression keeps. */
function firing(name: string, exprLabels: Record<string, string> = {}) {
  const rule = rules.find((r) => r.alert === name);
  if (!rule) throw new Error(`no alert rule ${name}`);
  return { exp_labels: { ...rule.labels, ...exprLabels }, exp_annotations: rule.annotations };
}

/** One promtool test group: the series (one point a minute) and what each alert is at `at`. */
const group = (series: Record<string, string>, expectations: { at: string; alert: string; fires: object[] }[]) => ({
  interval: "1m",
  input_series: Object.entries(series).map(([s, values]) => ({ series: s, values })),
  alert_rule_test: expectations.map((e) => ({ eval_time: e.at, alertname: e.alert, exp_alerts: e.fires })),
});

const SPEECH = 'route="/v1/audio/transcriptions",method="POST",status="200"';
/** Per-minute increments of a latency histogram: `slow` requests of 5-10 s for every `fast` one under 0.5 s. */
function latency(fast: number, slow: number): Record<string, string> {
  const buckets: [string, number][] = [
    ["0.5", fast],
    ["1", fast],
    ["5", fast],
    ["10", fast + slow],
    ["+Inf", fast + slow],
  ];
  return Object.fromEntries(buckets.map(([le, n]) => [`inference_http_request_duration_seconds_bucket{${SPEECH},le="${le}"}`, `0+${n}x30`]));
}

const tests = {
  rule_files: ["voice-selfhost.rules.yaml"],
  evaluation_interval: "1m",
  tests: [
    // In grace, serving stops at 5 h (valid until 18000 s): under 6 h left from the start.
    group({ "license_proxy_grace_period_active": "1x180", "license_proxy_valid_until_timestamp_seconds": "18000x180", "license_proxy_license_valid": "1x180" }, [
      { at: "1h", alert: "LicenseGraceEnding", fires: [firing("LicenseGraceEnding")] },
      { at: "1h", alert: "LicenseExpired", fires: [] },
    ]),
    // In grace with 20 h left: the grace alert (after its 5 m) but not the ending one; out of grace: neither.
    group({ "license_proxy_grace_period_active": "1x180", "license_proxy_valid_until_timestamp_seconds": "72000x180" }, [
      { at: "1h", alert: "LicenseGraceEnding", fires: [] },
      { at: "1h", alert: "LicenseGracePeriodActive", fires: [firing("LicenseGracePeriodActive")] },
    ]),
    group({ "license_proxy_grace_period_active": "0x180", "license_proxy_valid_until_timestamp_seconds": "3600x180" }, [{ at: "30m", alert: "LicenseGraceEnding", fires: [] }]),
    // The spool stops being writable after 10 minutes.
    group({ 'license_proxy_spool_writable{pod="license-proxy-1"}': "1x10 0x20" }, [
      { at: "5m", alert: "LicenseProxySpoolUnwritable", fires: [] },
      { at: "15m", alert: "LicenseProxySpoolUnwritable", fires: [firing("LicenseProxySpoolUnwritable")] },
    ]),
    // Requests refused with 429 (queue full) every minute for 30 minutes; then a quiet server.
    group({ 'inference_rejected_requests_total{reason="too_many_requests"}': "0+3x30", inference_worker_utilisation: "0.5x30" }, [
      { at: "5m", alert: "InferenceQueueSaturated", fires: [] },
      { at: "20m", alert: "InferenceQueueSaturated", fires: [firing("InferenceQueueSaturated")] },
    ]),
    group({ 'inference_rejected_requests_total{reason="too_many_requests"}': "0x30", 'inference_rejected_requests_total{reason="unauthorized"}': "0+5x30", inference_worker_utilisation: "0.5x30" }, [
      { at: "20m", alert: "InferenceQueueSaturated", fires: [] },
    ]),
    // 19 of 20 speech requests take 5-10 s: the p95 is above 5 s. Then 20 of 20 under 0.5 s.
    group(latency(1, 19), [{ at: "20m", alert: "InferenceP95LatencyHigh", fires: [firing("InferenceP95LatencyHigh", { route: "/v1/audio/transcriptions" })] }]),
    group(latency(20, 0), [{ at: "20m", alert: "InferenceP95LatencyHigh", fires: [] }]),
  ],
};
fs.writeFileSync(path.join(work, "voice-selfhost.tests.yaml"), JSON.stringify(tests, null, 2));

describeWithPrometheus("the Monitoring construct's alert rules, through promtool", () => {
  test("promtool check rules: every rule is valid", () => {
    const { code, output } = promtool(["check", "rules", "voice-selfhost.rules.yaml"], work);
    expect({ code, output }).toMatchObject({ code: 0 });
    expect(output).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  test("promtool test rules: grace ending, spool unwritable, queue full and p95 latency fire exactly when they should", () => {
    const { code, output } = promtool(["test", "rules", "voice-selfhost.tests.yaml"], work);
    expect({ code, output }).toEqual({ code: 0, output: expect.stringContaining("SUCCESS") });
  });

  test("the unit tests can fail: an expectation the rules do not meet is reported", () => {
    const wrong = { ...tests, tests: [group({ 'license_proxy_spool_writable{pod="p"}': "1x30" }, [{ at: "15m", alert: "LicenseProxySpoolUnwritable", fires: [firing("LicenseProxySpoolUnwritable")] }])] };
    fs.writeFileSync(path.join(work, "wrong.tests.yaml"), JSON.stringify(wrong));
    const { code, output } = promtool(["test", "rules", "wrong.tests.yaml"], work);
    expect(code).not.toBe(0);
    expect(output).toMatch(/FAILED[\s\S]*alertname: LicenseProxySpoolUnwritable/);
  });
});
