/** What the server benchmarks share: the built server started in its own process (as deployed), percentiles, test speech. */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";

export const KEY = "bench-key-0123456789abcdef";
export const auth = { authorization: `Bearer ${KEY}` };

export function pct(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
export const ms = (x: number) => Math.round(x * 10) / 10;

export async function startServer(): Promise<{ child: ChildProcess; base: string; port: number }> {
  const child = spawn(process.execPath, [path.resolve(__dirname, "../../server/main.js")], {
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", API_KEYS: KEY, LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  // The port (PORT=0) comes from the JSON "listening" log line.
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (c) => reject(new Error(`server exited ${c}: ${out}`)));
    const poll = setInterval(() => {
      const m = /"port":(\d+)/.exec(out);
      if (m) {
        clearInterval(poll);
        resolve(Number(m[1]));
      }
    }, 50);
  });
  return { child, base: `http://127.0.0.1:${port}`, port };
}

/** A WAV (the callers read its PCM): speech defaults to mp3. */
export async function synthesize(base: string, text: string): Promise<Buffer> {
  const res = await fetch(`${base}/v1/audio/speech`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ model: "tts-1", input: text, response_format: "wav" }) });
  if (res.status !== 200) throw new Error(`speech failed: ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

/** Trim or pad (with silence) a 16 kHz PCM16 WAV to exactly `seconds`. */
export function fitWav(wav: Buffer, seconds: number): Buffer {
  const rate = wav.readUInt32LE(24);
  const data = Buffer.alloc(Math.round(seconds * rate) * 2);
  wav.copy(data, 0, 44, Math.min(wav.length, 44 + data.length));
  const head = Buffer.from(wav.subarray(0, 44));
  head.writeUInt32LE(36 + data.length, 4);
  head.writeUInt32LE(data.length, 40);
  return Buffer.concat([head, data]);
}
