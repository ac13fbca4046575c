/**
 * Synthesizes every environment. Output goes to a scratch folder first and replaces cdktf.out only
 * when the whole app synthesized, so a bad config or a policy violation leaves no partial output.
 */
import * as fs from "fs";
import * as path from "path";
import { buildApp } from "../main";

export function synthAll(outdir: string): string[] {
  const scratch = `${outdir}.partial-${process.pid}`;
  fs.rmSync(scratch, { recursive: true, force: true });
  try {
    buildApp({ outdir: scratch }).synth();
  } catch (err) {
    fs.rmSync(scratch, { recursive: true, force: true });
    throw err;
  }
  fs.rmSync(outdir, { recursive: true, force: true });
  fs.renameSync(scratch, outdir);
  return fs.readdirSync(path.join(outdir, "stacks")).sort();
}

if (require.main === module) {
  const outdir = path.resolve(process.env.CDKTF_OUTDIR ?? "cdktf.out");
  try {
    const stacks = synthAll(outdir);
    console.log(`synthesized ${stacks.length} stacks into ${path.relative(process.cwd(), outdir) || "."}: ${stacks.join(", ")}`);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}
