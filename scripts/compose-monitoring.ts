/**
 * Writes the alert rules and the Grafana dashboard that the workloads stacks ship (built by the
 * Monitoring construct, their one source) into deploy/compose/generated/, where the compose file's
 * monitoring profile mounts them. Run before `docker compose --profile monitoring up`.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { App, TerraformStack } from "cdktf";
import { Monitoring } from "../constructs/workloads/monitoring";

export function writeComposeMonitoring(outdir: string): string[] {
  // The construct is only instantiated to read its files; nothing is synthesized (the App wants an outdir anyway).
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "compose-monitoring-"));
  const monitoring = new Monitoring(new TerraformStack(new App({ outdir: scratch }), "compose"), "monitoring");
  fs.rmSync(scratch, { recursive: true, force: true });
  const files: [string, object][] = [
    ["prometheus/voice-selfhost.rules.yaml", monitoring.alertRules],
    ["grafana/dashboards/voice-selfhost.json", monitoring.dashboard],
  ];
  return files.map(([file, content]) => {
    const target = path.join(outdir, file);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    // JSON is YAML: Prometheus reads the rule file as is, as the ConfigMap does.
    fs.writeFileSync(target, `${JSON.stringify(content, null, 2)}\n`);
    return target;
  });
}

if (require.main === module) {
  const outdir = path.resolve(__dirname, "../../deploy/compose/generated");
  for (const f of writeComposeMonitoring(outdir)) console.log(`wrote ${path.relative(process.cwd(), f)}`);
}
