/**
 * `npm run bench:tiny-models -w inference-image [-- rounds]`: how long the tests' tiny sherpa models take to
 * write (median and max over rounds), and their size on disk.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { writeKokoro, writeParaformer, writeTransducer, writeVits, writeWhisper } from "../test/engines/sherpa-models";
import { listFiles } from "../src/engines/manifest";

const rounds = Number(process.argv[2] ?? 20);
const writers = { "sherpa-whisper": writeWhisper, "sherpa-transducer": writeTransducer, "sherpa-paraformer": writeParaformer, "sherpa-vits": writeVits, "sherpa-kokoro": writeKokoro };
const root = fs.mkdtempSync(path.join(os.tmpdir(), "bench-tiny-"));
try {
  console.log(`rounds ${rounds}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}; ${os.cpus().length} cores`);
  for (const [engine, write] of Object.entries(writers)) {
    const times: number[] = [];
    let dir = "";
    for (let i = 0; i < rounds; i++) {
      dir = path.join(root, `${engine}-${i}`);
      const t0 = performance.now();
      write(dir);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const bytes = listFiles(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
    console.log(`${engine.padEnd(18)} median ${times[Math.floor(times.length / 2)].toFixed(1)} ms, max ${times[times.length - 1].toFixed(1)} ms, ${(bytes / 1024).toFixed(0)} KiB`);
  }
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
