/**
 * Shared by the container tests: they run the built image (`npm run image:build:local`) with podman.
 * Without podman or the image they skip and say why; with IMAGE_TESTS=required (CI) that is a failure.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { buildProxy } from "../license/helpers";

export const IMAGE = process.env.INFERENCE_IMAGE ?? "localhost/voice-selfhost/inference:dev";
export const REPO_ROOT = path.resolve(__dirname, "../../..");

/**
 * runc and these rlimits: crun fails on hybrid cgroups, and podman's default rlimits are above what
 * some VMs allow (both seen on the CI machine). Harmless elsewhere.
 */
export const PODMAN_GLOBAL = ["--runtime", process.env.PODMAN_RUNTIME ?? "runc"];
export const RUN_LIMITS = ["--ulimit", "nofile=1024:4096", "--ulimit", "nproc=1024:4096"];

const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: "ignore" }).status === 0;

/** Why the container tests cannot run here, or null when they can. */
export function skipReason(tools: string[] = ["podman"]): string | null {
  for (const tool of tools) if (!has(tool, ["--version"])) return `${tool} is not installed (scripts/install-system-deps.sh --container-tools installs it)`;
  if (!has("podman", ["image", "exists", IMAGE])) return `image ${IMAGE} is not built (npm run image:build:local)`;
  return null;
}

/** `describe`, or `describe.skip` with the reason printed; a skip fails when IMAGE_TESTS=required. */
export function describeWithImage(name: string, tools: string[], body: () => void): void {
  const reason = skipReason(tools);
  if (reason && process.env.IMAGE_TESTS === "required") throw new Error(`${name}: IMAGE_TESTS=required but ${reason}`);
  if (reason) {
    process.stderr.write(`skipping "${name}": ${reason}\n`);
    describe.skip(name, body);
  } else describe(name, body);
}

export function podman(args: string[], options: { input?: string; allowFail?: boolean } = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync("podman", [...PODMAN_GLOBAL, ...args], { encoding: "utf8", input: options.input, timeout: 120_000 });
  const out = { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  if (out.code !== 0 && !options.allowFail) throw new Error(`podman ${args.join(" ")} failed (${out.code}): ${out.stderr || out.stdout}`);
  return out;
}

/** The host port podman published for a container port. */
export function publishedPort(container: string, port: number): number {
  const line = podman(["port", container, `${port}/tcp`]).stdout.trim().split("\n")[0];
  return Number(line.slice(line.lastIndexOf(":") + 1));
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A folder the container's uid 1000 can read when it is bind-mounted (files written into it must be 0644). */
export function sharedDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

export const removeDir = (dir: string) => rmSync(dir, { recursive: true, force: true });

/** Runs the project's mint tool (the same one vendors' tests use) to make a vendor key and an offline license. */
export function mintOfflineLicense(dir: string, licenseId: string): { license: string; publicKey: string } {
  const mint = path.join(buildProxy(), "license-proxy/tools/mint.js");
  execFileSync(process.execPath, [mint, "keygen", "--dir", dir], { stdio: "pipe" });
  const license = path.join(dir, "license");
  execFileSync(process.execPath, [mint, "lease", "--key", path.join(dir, "vendor-private.jwk"), "--sub", licenseId, "--expires-in", "86400", "--out", license], { stdio: "pipe" });
  rmSync(path.join(dir, "vendor-private.jwk"));
  chmodSync(license, 0o644);
  return { license, publicKey: path.join(dir, "vendor-public.pem") };
}
