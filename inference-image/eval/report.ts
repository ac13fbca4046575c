/** What the evaluation scripts share: rounding, CPU time, and the Markdown table they print with the machine's load. */
import os from "node:os";

export const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

/** CPU seconds (user + system) this process has used, all threads (the engine workers') included. */
export function processCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** A Markdown table after a first line saying what was measured and the load average at the start and now. */
export function markdownReport(what: string, loadAtStart: number, header: string[], rows: (string | number)[][]): string {
  return [
    `${what}; load average ${round(loadAtStart, 2)} at the start, ${round(os.loadavg()[0], 2)} at the end, ${os.availableParallelism()} CPUs`,
    "",
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---|").join("")}`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
    "",
  ].join("\n");
}

export function runMain(main: () => Promise<void>): void {
  main().catch((err) => {
    process.stderr.write(`${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
