/**
 * Debian's Prometheus (`prometheus`, with `promtool`) for the monitoring tests: they check, unit-test
 * and run the alert rules the Monitoring construct writes. Without it they skip and say why; with
 * PROMETHEUS_TESTS=required (CI, which installs it: scripts/install-system-deps.sh) that is a failure.
 */
import { spawnSync } from "child_process";

/** Why the Prometheus tests cannot run here, or null when they can. */
export function prometheusSkipReason(): string | null {
  for (const tool of ["promtool", "prometheus"]) {
    if (spawnSync(tool, ["--version"], { stdio: "ignore" }).status !== 0) return `${tool} is not installed (scripts/install-system-deps.sh installs Debian's prometheus package)`;
  }
  return null;
}

/** `describe`, or `describe.skip` with the reason printed; a skip fails when PROMETHEUS_TESTS=required. */
export function describeWithPrometheus(name: string, body: () => void): void {
  const reason = prometheusSkipReason();
  if (reason && process.env.PROMETHEUS_TESTS === "required") throw new Error(`${name}: PROMETHEUS_TESTS=required but ${reason}`);
  if (reason) {
    process.stderr.write(`skipping "${name}": ${reason}\n`);
    describe.skip(name, body);
  } else describe(name, body);
}

/** Runs promtool; its exit code and everything it printed. */
export function promtool(args: string[], cwd?: string): { code: number; output: string } {
  const r = spawnSync("promtool", args, { cwd, encoding: "utf8", timeout: 60_000 });
  return { code: r.status ?? -1, output: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}
