/**
 * The app as `npm run synth` builds it from environments/, synthesized once per jest run: jest.config.js runs
 * this file as the infra projects' globalSetup, and tests that only read the stock environments' stacks call
 * `stockStack` instead of each synthesizing the whole app again (tests of modified configs still synthesize
 * their own). The folder is named by STOCK_SYNTH_DIR, which the workers inherit; globalTeardown removes it.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadEnvironments } from "../../app";
import { buildApp } from "../../main";

const ENV_VAR = "STOCK_SYNTH_DIR";

export default function synthStockEnvironments(): void {
  // Both infra projects (unit and e2e) name this setup; a run that selects both synthesizes once.
  if (process.env[ENV_VAR]) return;
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "stock-synth-"));
  buildApp({ outdir, environments: loadEnvironments(path.resolve(__dirname, "../../environments")) }).synth();
  process.env[ENV_VAR] = outdir;
}

/** The folder holding the stock synth (`stacks/<stack>/cdk.tf.json` and the files stacks write beside them). */
export function stockSynthDir(): string {
  const dir = process.env[ENV_VAR];
  if (!dir || !fs.existsSync(dir)) throw new Error(`${ENV_VAR} names no synthesized app: run the tests through jest.config.js, whose globalSetup (test/support/stock-synth.ts) makes it`);
  return dir;
}

/** One stack of the stock synth, as JSON (a fresh copy: tests may change what they read). */
export function stockStack<T = unknown>(name: string): T {
  const file = path.join(stockSynthDir(), "stacks", name, "cdk.tf.json");
  if (!fs.existsSync(file)) throw new Error(`the stock synth has no stack ${name}: stacks are ${fs.readdirSync(path.join(stockSynthDir(), "stacks")).join(", ")}`);
  return JSON.parse(fs.readFileSync(file, "utf8")) as T;
}

/** Every stack of the stock synth by name. */
export function stockStacks<T = unknown>(): Record<string, T> {
  return Object.fromEntries(fs.readdirSync(path.join(stockSynthDir(), "stacks")).map((name) => [name, stockStack<T>(name)]));
}
