/** globalTeardown of the infra projects: removes the stock synth test/support/stock-synth.ts made. */
import * as fs from "fs";

export default function removeStockSynth(): void {
  const dir = process.env.STOCK_SYNTH_DIR;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  delete process.env.STOCK_SYNTH_DIR;
}
