/**
 * A real Prometheus (Debian's, started here on loopback) scrapes a running inference server with the
 * Monitoring construct's job and rules: the server's metrics arrive, every rule evaluates without
 * error, the load ratio the HPA scales on shows a busy replica, and a full work queue turns
 * InferenceQueueSaturated pending. The kubernetes_sd discovery of the real job is replaced by a static
 * target carrying the labels its relabelling would add (namespace, pod); the rest is as deployed.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Monitoring } from "../../constructs/workloads";
import { freePort } from "../../inference-image/test/license/helpers";
import { auth, startServer, Started } from "../../inference-image/test/server/helpers";
import { describeWithPrometheus } from "../support/prometheus";
import { testStack } from "../support/synth";

jest.setTimeout(180_000);

/** Polls `probe` until it returns a value (not undefined), at most `seconds`: a wait for an event Prometheus reports, with a deadline. */
async function until<T>(what: string, seconds: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describeWithPrometheus("a real Prometheus scraping a running inference server with the Monitoring rules", () => {
  let server: Started;
  let prometheus: ChildProcess;
  let api: string;
  let work: string;
  let log = "";
  const query = async (expr: string) => {
    const body = (await (await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    return body.data.result;
  };

  beforeAll(async () => {
    // One worker, no queue: a second request while one runs is refused at once (429), as a saturated replica refuses.
    server = await startServer({ workers: 1, batchWorkers: 0, queueMax: 0 });
    work = fs.mkdtempSync(path.join(os.tmpdir(), "prometheus-scrape-"));
    const { stack } = testStack();
    const monitoring = new Monitoring(stack, "monitoring");
    fs.writeFileSync(path.join(work, "rules.yaml"), JSON.stringify(monitoring.alertRules));
    const job = monitoring.scrapeConfig.scrape_configs[0] as { job_name: string };
    const config = {
      global: { scrape_interval: "1s", evaluation_interval: "1s" },
      rule_files: [path.join(work, "rules.yaml")],
      scrape_configs: [{ job_name: job.job_name, static_configs: [{ targets: [`127.0.0.1:${server.address.port}`], labels: { namespace: "voice-selfhost", pod: "inference-0" } }] }],
    };
    fs.writeFileSync(path.join(work, "prometheus.yml"), JSON.stringify(config));
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    prometheus = spawn("prometheus", [`--config.file=${path.join(work, "prometheus.yml")}`, `--storage.tsdb.path=${path.join(work, "data")}`, `--web.listen-address=127.0.0.1:${port}`], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    prometheus.stderr!.on("data", (d: Buffer) => (log += d.toString()));
    await until(`Prometheus to be ready (its log: ${log.slice(-500)})`, 60, async () => ((await fetch(`${api}/-/ready`)).ok ? true : undefined));
  });

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus.once("exit", resolve));
      prometheus.kill("SIGTERM");
      await exited;
    }
    await server?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test("the server is scraped: its target is up and the capacity it scales on arrives per lane", async () => {
    await until("the target to be up", 60, async () => {
      const body = (await (await fetch(`${api}/api/v1/targets`)).json()) as { data: { activeTargets: { health: string }[] } };
      return body.data.activeTargets[0]?.health === "up" ? true : undefined;
    });
    const capacity = await until("inference_capacity", 30, async () => ((await query("inference_capacity")).length > 0 ? query("inference_capacity") : undefined));
    // One live worker with two stream slots (the test server's STREAMS_PER_WORKER); batch shares it (BATCH_WORKERS=0), so no batch lane.
    expect(capacity.map((r) => [r.metric.lane, r.metric.pod, r.value[1]])).toEqual([["live", "inference-0", "2"]]);
  });

  test("every rule group evaluates without error", async () => {
    const groups = await until("every rule to have been evaluated", 30, async () => {
      const body = (await (await fetch(`${api}/api/v1/rules`)).json()) as { data: { groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[] } };
      const all = body.data.groups.flatMap((g) => g.rules);
      return all.length > 0 && all.every((r) => r.health !== "unknown") ? body.data.groups : undefined;
    });
    expect(groups.map((g) => g.name).sort()).toEqual(["voice-selfhost-inference", "voice-selfhost-license"]);
    const rules = groups.flatMap((g) => g.rules);
    expect(rules.filter((r) => r.health !== "ok").map((r) => `${r.name}: ${r.lastError}`)).toEqual([]);
  });

  test("a busy replica shows a load ratio of 1 and a full queue turns InferenceQueueSaturated pending", async () => {
    const long = Array.from({ length: 60 }, (_, i) => `This is sentence number ${i + 1} of a long answer.`).join(" ");
    const speak = () => fetch(`${server.base}/v1/audio/speech`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ model: "tts-1", input: long, response_format: "wav" }) });
    const first = speak();
    await until("the worker to be busy", 30, async () => (server.speech.stats().busyWorkers > 0 ? true : undefined));
    const refused = await speak();
    expect(refused.status).toBe(429);
    await refused.arrayBuffer();
    // The synthesis holds the only live worker: all its stream slots' worth, a ratio of 1 (the HPA's target is below it).
    const ratio = await until("a scrape during the synthesis", 60, async () => {
      const r = await query('max_over_time(inference_load_ratio{lane="live"}[1m])');
      return r.length && Number(r[0].value[1]) >= 1 ? Number(r[0].value[1]) : undefined;
    });
    expect(ratio).toBe(1);
    const alert = await until("InferenceQueueSaturated to be pending", 60, async () => {
      const body = (await (await fetch(`${api}/api/v1/alerts`)).json()) as { data: { alerts: { labels: { alertname: string }; state: string }[] } };
      return body.data.alerts.find((a) => a.labels.alertname === "InferenceQueueSaturated");
    });
    // Pending, not firing: the rule waits 10 minutes before it pages anyone.
    expect(alert.state).toBe("pending");
    expect((await first).status).toBe(200);
  });
});
