/**
 * The AWS emulator: moto_server from the Debian trixie root filesystem (rootfs.sh), run with chroot
 * on a port the system picks, with what stock moto lacks for our stacks (moto_extensions.py) loaded
 * into it. One emulator per deploy run, so runs never share state.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const HERE = path.join(repoRoot(), "scripts", "emulator");
const READY_TIMEOUT_MS = 120_000;

/** The repository's root: the first folder above this file with a package.json (from the sources or from dist/). */
export function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

/** The cached root filesystem's path, or why there is none. Builds nothing. */
export function findRootfs(): { rootfs: string } | { reason: string } {
  const result = spawnSync(path.join(HERE, "rootfs.sh"), ["--path"], { encoding: "utf8" });
  return result.status === 0 ? { rootfs: result.stdout.trim() } : { reason: (result.stderr || String(result.error)).trim() };
}

/** The root filesystem's path, made first when missing (minutes, once per machine). */
export function ensureRootfs(): string {
  const result = spawnSync(path.join(HERE, "rootfs.sh"), [], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (result.status !== 0) throw new Error(`scripts/emulator/rootfs.sh failed (exit ${result.status})`);
  return result.stdout.trim();
}

/** One workaround of moto_extensions.py: the resource types it serves, why, and how often this emulator used it. */
export interface Workaround {
  readonly resourceTypes: string[];
  readonly why: string;
  readonly uses: number;
}

export interface EmulatorOptions {
  readonly rootfs: string;
  /** The account moto answers as (every ARN it makes, and GetCallerIdentity). */
  readonly accountId: string;
  /** Certificates the stack names but does not create: made in moto first, as the operator's would exist. */
  readonly certificateArns: string[];
  readonly log: (line: string) => void;
}

export class Emulator {
  private exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    readonly endpoint: string,
    readonly accountId: string,
  ) {
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
  }

  static async start(options: EmulatorOptions): Promise<Emulator> {
    const env = {
      PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
      // AWS-managed IAM policies (AmazonEKSClusterPolicy...) exist only when moto loads them.
      MOTO_IAM_LOAD_MANAGED_POLICIES: "true",
      MOTO_ACCOUNT_ID: options.accountId,
      EMULATOR_CERTIFICATE_ARNS: options.certificateArns.join(","),
    };
    // The extension goes in on standard input (python3 -): the cached root filesystem stays as mmdebstrap made it.
    const command = ["chroot", options.rootfs, "python3", "-", "-H", "127.0.0.1", "-p", "0"];
    const argv = process.getuid?.() === 0 ? command : ["unshare", "--map-root-user", ...command];
    const child = spawn(argv[0], argv.slice(1), { env, stdio: ["pipe", "pipe", "pipe"] });
    child.stdin!.end(fs.readFileSync(path.join(HERE, "moto_extensions.py")));
    const port = await new Promise<number>((resolve, reject) => {
      let output = "";
      const timer = setTimeout(() => fail(new Error(`moto_server did not start in ${READY_TIMEOUT_MS / 1000} s:\n${output}`)), READY_TIMEOUT_MS);
      const fail = (err: Error) => {
        clearTimeout(timer);
        child.kill("SIGTERM");
        reject(err);
      };
      const watch = (chunk: Buffer) => {
        output += chunk.toString("utf8");
        // werkzeug names the port it was given by the system (-p 0).
        const match = /Running on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      };
      child.stdout!.on("data", watch);
      child.stderr!.on("data", watch);
      child.once("error", fail);
      child.once("exit", (code) => fail(new Error(`moto_server exited (${code}) before it was ready:\n${output}`)));
    });
    // Keep draining its request log, which would otherwise fill the pipe and stall the server.
    child.stdout!.resume();
    child.stderr!.resume();
    const emulator = new Emulator(child, `http://127.0.0.1:${port}`, options.accountId);
    options.log(`emulator: moto_server on ${emulator.endpoint} (pid ${child.pid}), account ${options.accountId}`);
    return emulator;
  }

  private async get<T>(route: string): Promise<T> {
    const response = await fetch(`${this.endpoint}${route}`);
    if (!response.ok) throw new Error(`emulator ${route}: HTTP ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  }

  /** Every workaround with the number of times this emulator used it. */
  async workarounds(): Promise<Record<string, Workaround>> {
    return (await this.get<{ workarounds: Record<string, Workaround> }>("/moto-api/voice-selfhost/workarounds")).workarounds;
  }

  /** Every resource moto holds in the region (and the global services), as "kind id" lines. */
  async inventory(region: string): Promise<string[]> {
    return (await this.get<{ resources: string[] }>(`/moto-api/voice-selfhost/inventory?region=${encodeURIComponent(region)}`)).resources;
  }

  /** An S3 request to the emulator, unsigned (moto checks no signature); the scope names the service and region. */
  private async s3(method: string, route: string, region: string, body?: string): Promise<void> {
    const headers = { Authorization: `AWS4-HMAC-SHA256 Credential=emulator/20260101/${region}/s3/aws4_request` };
    const response = await fetch(`${this.endpoint}/${route}`, { method, body, headers });
    if (!response.ok) throw new Error(`S3 ${method} /${route} in the emulator: HTTP ${response.status} ${await response.text()}`);
  }

  async createBucket(bucket: string, region: string): Promise<void> {
    const body = region === "us-east-1" ? "" : `<CreateBucketConfiguration><LocationConstraint>${region}</LocationConstraint></CreateBucketConfiguration>`;
    await this.s3("PUT", bucket, region, body);
  }

  async putObject(bucket: string, key: string, region: string, body: string): Promise<void> {
    await this.s3("PUT", `${bucket}/${key}`, region, body);
  }

  async deleteObject(bucket: string, key: string, region: string): Promise<void> {
    await this.s3("DELETE", `${bucket}/${key}`, region);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    await this.exited;
  }
}
