/**
 * The compose quick start's monitoring profile loads the alert rules and dashboard the workloads
 * stacks ship: `npm run compose:monitoring` writes them from the same construct, and every file the
 * profile mounts is where Prometheus and Grafana are told to look. YAML is read with the parser
 * podman-compose uses (python3-yaml).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { writeComposeMonitoring } from "../../scripts/compose-monitoring";
import { stockStack } from "../support/stock-synth";
import { find, kubeObjects, StackJson } from "../workloads/support";

const ROOT = path.resolve(__dirname, "../..");
const GENERATED = "./deploy/compose/generated/";
const hasYaml = spawnSync("python3", ["-c", "import yaml"]).status === 0;
if (!hasYaml) process.stderr.write("skipping the compose mount check: python3-yaml is not installed (it comes with podman-compose)\n");

function yaml(file: string): any {
  const r = spawnSync("python3", ["-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))", file], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${file}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

let out: string;
beforeAll(() => {
  out = fs.mkdtempSync(path.join(os.tmpdir(), "compose-monitoring-"));
  writeComposeMonitoring(out);
});
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

test("writes exactly the rules and dashboard ConfigMaps of a synthesized workloads stack", () => {
  const objects = kubeObjects(stockStack<StackJson>("dev-workloads"));
  const configMapFile = (name: string, file: string) => JSON.parse(find(objects, "ConfigMap", name)[0].data![file]);
  expect(JSON.parse(fs.readFileSync(path.join(out, "prometheus/voice-selfhost.rules.yaml"), "utf8"))).toEqual(configMapFile("voice-selfhost-alert-rules", "voice-selfhost.rules.yaml"));
  expect(JSON.parse(fs.readFileSync(path.join(out, "grafana/dashboards/voice-selfhost.json"), "utf8"))).toEqual(configMapFile("voice-selfhost-dashboard", "voice-selfhost.json"));
});

(hasYaml ? test : test.skip)("every file the monitoring profile mounts exists, where Prometheus and Grafana look for it", () => {
  const services = yaml(path.join(ROOT, "compose.yaml")).services as Record<string, { profiles?: string[]; volumes: string[] }>;
  const mounts: Record<string, string> = {};
  for (const name of ["prometheus", "grafana"]) {
    expect(services[name].profiles).toEqual(["monitoring"]);
    for (const v of services[name].volumes) {
      const [source, target] = v.split(":");
      if (!source.startsWith("./")) continue; // a named volume
      const onDisk = source.startsWith(GENERATED) ? path.join(out, source.slice(GENERATED.length)) : path.join(ROOT, source);
      expect({ source, exists: fs.existsSync(onDisk) }).toEqual({ source, exists: true });
      mounts[target] = onDisk;
    }
  }
  const prometheus = yaml(mounts["/etc/prometheus/prometheus.yml"]) as { rule_files: string[]; scrape_configs: { static_configs: { targets: string[] }[] }[] };
  const ruleDir = path.dirname(prometheus.rule_files[0]);
  expect(Object.keys(mounts).filter((t) => path.dirname(t) === ruleDir && t.endsWith(".yaml"))).toHaveLength(1);
  expect(prometheus.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets)).sort()).toEqual(["inference:8080", "license-proxy:3369"]);
  const provider = yaml(path.join(mounts["/etc/grafana/provisioning"], "dashboards/voice-selfhost.yaml")) as { providers: { options: { path: string } }[] };
  expect(fs.readdirSync(mounts[provider.providers[0].options.path])).toEqual(["voice-selfhost.json"]);
});
