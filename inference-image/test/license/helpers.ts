/**
 * Helpers for the license proxy tests: compile the proxy once (only its own sources, into a cache
 * folder keyed by their content, so other work in progress in the image cannot break these tests),
 * spawn it as a real process, and talk to it over real HTTP.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import type { UsageRecord } from "../../src/shared/license-protocol";

/** The image workspace: found by walking up, so the benchmark can use these helpers from a compiled copy too. */
function imageRoot(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, "src", "license-proxy", "main.ts"))) return dir;
  }
  throw new Error(`cannot find the inference-image workspace above ${__dirname}`);
}
const IMAGE = imageRoot();
const SRC = join(IMAGE, "src");

function listTs(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? listTs(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/**
 * Compile `entryFiles` (paths under src/) once per content of the `sources` folders: into a cache folder
 * named by their hash, written through a staging folder and renamed into place, so parallel test files
 * share one build and none reads a half-written one. Returns the folder holding the .js tree (src/'s layout).
 * The cache lives under the image's node_modules, so the compiled files resolve the image's dependencies.
 */
export function buildOnce(entryFiles: string[], sources: string[]): string {
  const files = sources.flatMap(listTs).sort();
  const hash = createHash("sha256");
  for (const f of entryFiles) hash.update(`entry:${f}\0`);
  for (const f of files) hash.update(relative(SRC, f)).update(readFileSync(f));
  const cacheRoot = join(IMAGE, "node_modules", ".cache", "inference-image-test-build");
  const out = join(cacheRoot, hash.digest("hex").slice(0, 16));
  const marker = join(out, entryFiles[0].replace(/\.ts$/, ".js"));
  if (existsSync(marker)) return out;
  mkdirSync(cacheRoot, { recursive: true });
  const staging = mkdtempSync(join(cacheRoot, "staging-"));
  const tsconfig = join(staging, "tsconfig.json");
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(IMAGE, "tsconfig.json"),
      compilerOptions: { rootDir: SRC, outDir: join(staging, "out"), types: ["node"], noEmit: false },
      files: entryFiles.map((f) => join(SRC, f)),
      include: [],
    }),
  );
  const tsc = require.resolve("typescript/bin/tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", tsconfig], { encoding: "utf8" });
  if (r.status !== 0) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`compiling ${entryFiles.join(", ")} failed:\n${r.stdout}${r.stderr}`);
  }
  try {
    renameSync(join(staging, "out"), out);
  } catch (e) {
    if (!existsSync(marker)) throw e;
  }
  rmSync(staging, { recursive: true, force: true });
  return out;
}

/** Compile the proxy (main, cli, mint tool) and return the folder holding license-proxy/*.js. */
export function buildProxy(): string {
  return buildOnce(["license-proxy/main.ts", "license-proxy/cli.ts", "license-proxy/tools/mint.ts"], [join(SRC, "license-proxy"), join(SRC, "shared")]);
}

/**
 * Compile the whole image (every file under src/, as tsconfig.build.json does) and return the folder
 * holding server/main.js, engines/worker.js (found beside pool.js) and license-proxy/*.js.
 */
export function buildImage(): string {
  // server/main.ts first: buildOnce knows a finished build by its first entry's .js.
  const rest = listTs(SRC)
    .map((f) => relative(SRC, f))
    .filter((f) => f !== "server/main.ts")
    .sort();
  return buildOnce(["server/main.ts", ...rest], [SRC]);
}

const tempDirs: string[] = [];

/** A scratch folder, removed by cleanUp(). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `lp-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

export interface LogLine {
  level: string;
  msg: string;
  [k: string]: unknown;
}

export class ProxyProcess {
  readonly logs: LogLine[] = [];
  stderr = "";
  port = 0;
  private exitPromise: Promise<number | null>;

  private constructor(readonly child: ChildProcess) {
    this.exitPromise = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  }

  static start(build: string, env: Record<string, string>, opts: { expectExit?: boolean } = {}): Promise<ProxyProcess> {
    return ProxyProcess.startScript(join(build, "license-proxy", "main.js"), "license proxy listening", env, opts);
  }

  /** Any of the image's entry points (JSON log lines on stdout): resolves once the `ready` line names its port. */
  static async startScript(script: string, ready: string, env: Record<string, string>, opts: { expectExit?: boolean } = {}): Promise<ProxyProcess> {
    const child = spawn(process.execPath, [script], {
      env: { PATH: process.env.PATH ?? "", PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const p = new ProxyProcess(child);
    let buffered = "";
    const listening = new Promise<void>((resolve, reject) => {
      child.stdout?.on("data", (d: Buffer) => {
        buffered += d.toString("utf8");
        let nl: number;
        while ((nl = buffered.indexOf("\n")) !== -1) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          try {
            const parsed = JSON.parse(line) as LogLine;
            p.logs.push(parsed);
            if (parsed.msg === ready) {
              p.port = parsed.port as number;
              resolve();
            }
          } catch {
            p.logs.push({ level: "raw", msg: line });
          }
        }
      });
      child.stderr?.on("data", (d: Buffer) => (p.stderr += d.toString("utf8")));
      child.once("exit", (code) => reject(new Error(`${script} exited with ${code} before listening: ${p.stderr}`)));
    });
    if (opts.expectExit) {
      listening.catch(() => undefined);
      await p.exitPromise;
      return p;
    }
    await listening;
    return p;
  }

  exited(): Promise<number | null> {
    return this.exitPromise;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (this.alive) this.child.kill(signal);
    await this.exitPromise;
  }
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** Close kept-alive sockets and remove scratch folders: call in afterAll, after the proxies are stopped. */
export function cleanUp(): void {
  agent.destroy();
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** One request with a raw body (sent as JSON, not encoded here), over TCP to a port or to a Unix socket. */
export function callRaw(target: number | { port: number } | { socketPath: string }, method: string, path: string, payload?: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const to = typeof target === "number" ? { port: target } : target;
    const req = request(
      { host: "127.0.0.1", ...to, method, path, agent, headers: payload === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // metrics are text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

export const call = (port: number, method: string, path: string, body?: unknown) => callRaw(port, method, path, body === undefined ? undefined : JSON.stringify(body));

/** The value of an unlabelled metric on a server's /metrics (NaN when it has none). */
export async function metricValue(base: string, name: string): Promise<number> {
  const text = await (await fetch(new URL("/metrics", base))).text();
  return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
}

/**
 * Connect, write `bytes`, wait `afterMs`, then cut the connection: by default a reset (SO_LINGER 0: the
 * peer gets an RST); with `how: "close"` a plain close (FIN), resolving once the socket has closed.
 */
export function writeThenDisconnect(port: number, bytes: string | Buffer, afterMs = 20, how: "reset" | "close" = "reset"): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, "127.0.0.1", () => {
      socket.write(bytes);
      setTimeout(() => {
        if (how === "close") {
          socket.once("close", () => resolve());
          socket.destroy();
          return;
        }
        socket.resetAndDestroy();
        resolve();
      }, afterMs);
    });
    socket.on("error", (e) => {
      if ((e as NodeJS.ErrnoException).code !== "ECONNRESET") reject(e);
    });
  });
}

export const authorize = (port: number, feature = "stt", model = "whisper-small") => call(port, "POST", "/v1/authorize", { feature, model });
export const health = (port: number) => call(port, "GET", "/health");

export function usageRecord(overrides: Partial<UsageRecord> = {}): UsageRecord {
  return {
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    model: "whisper-small",
    features: ["stt"],
    status_code: 200,
    audio_seconds: 3.25,
    characters: 42,
    ...overrides,
  };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A loopback port nothing listens on right now (the OS's pick, released again). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves when the wall clock has passed `unixSeconds` (plus a margin). */
export async function sleepUntil(unixSeconds: number, marginMs = 0): Promise<void> {
  const ms = unixSeconds * 1000 + marginMs - Date.now();
  if (ms > 0) await sleep(ms);
}

/** A loopback URL where nothing listens: connection refused, as for an unreachable upstream. */
export const DEAD_URL = "http://127.0.0.1:9";
