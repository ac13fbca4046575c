/**
 * The fault suite's processes, started as users start them: the built server (`node <build>/server/main.js`,
 * compiled as the image's dist/ is) and, through ../license/helpers, the real license proxy against the fake upstream.
 * Faults come from outside: raw sockets, resets, signals, a full disk.
 */
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { buildImage, ProxyProcess } from "../license/helpers";

export const KEY = "fault-key-0123456789abcdef";

let built: string | undefined;

/**
 * Compile the image (tsc, a few seconds, once per content of src/ across test files) so the tests run
 * the current sources as the image would; returns the build folder. Not dist/: that is the image's
 * build, and a test file's tsc rewriting it could change a server another file is starting.
 */
export function buildServer(): string {
  return (built ??= buildImage());
}

/**
 * The built server, WORKERS=1, keyed with KEY; killed by the caller. STREAMS_PER_WORKER=2: every live slot's decoder
 * is made before the server is ready (the default 8 made each start take seconds), and these tests open few at once.
 */
export function startServer(env: Record<string, string> = {}): Promise<ProxyProcess> {
  return ProxyProcess.startScript(join(buildServer(), "server", "main.js"), "listening", { WORKERS: "1", STREAMS_PER_WORKER: "2", API_KEYS: KEY, HOME: process.env.HOME ?? "", ...env });
}

/** Write raw bytes to the server and collect what comes back until it closes the socket (or `timeoutMs`). */
export function rawExchange(port: number, bytes: string | Buffer, opts: { timeoutMs?: number; end?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString("latin1"));
    }, opts.timeoutMs ?? 5000);
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", (e) => {
      clearTimeout(timer);
      if ((e as NodeJS.ErrnoException).code === "ECONNRESET") resolve(Buffer.concat(chunks).toString("latin1"));
      else reject(e);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString("latin1"));
    });
    socket.write(bytes);
    if (opts.end) socket.end();
  });
}

export const statusOf = (answer: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);

/** A process's resident set size in bytes (VmRSS from /proc, Linux). */
export const rssBytes = (pid: number): number => Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]) * 1024;
