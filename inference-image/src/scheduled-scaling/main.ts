/**
 * Scheduled scaling entry point: `node dist/scheduled-scaling/main.js --set inference=0` (off hours) or
 * `--at-least inference=2` (back on). The workloads stack runs it from two CronJobs where an environment
 * allows scale to zero (constructs/workloads/scheduled-scaling.ts).
 *
 * It changes a Deployment's scale subresource with the pod's own service account, as any in-cluster client
 * does. A Deployment at 0 replicas with an HPA whose minReplicas is above 0 is left alone by the HPA
 * (Kubernetes' "implicit maintenance-mode deactivation") until its count is raised again, which is what
 * `--at-least` does; it never lowers a count the HPA has raised since.
 */
import { readFile } from "node:fs/promises";
import { request } from "node:https";
import { join } from "node:path";
import { readBody } from "../shared/http";
import { createLogger } from "../shared/log";

/** Where the kubelet mounts a pod's service account token, CA and namespace. */
const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** Optimistic-concurrency retries when the HPA or a person changes the scale between our read and write. */
const CONFLICT_RETRIES = 3;
/** A Scale or Status object is a few hundred bytes; anything far larger is not the API server answering. */
const MAX_ANSWER_BYTES = 1 << 20;

export interface ScaleChange {
  readonly deployment: string;
  readonly replicas: number;
  /** "set": exactly this many; "atLeast": raise to this many, never lower. */
  readonly mode: "set" | "atLeast";
}

export class UsageError extends Error {}

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** `--set NAME=N` and `--at-least NAME=N`, one or more. */
export function parseArgs(argv: readonly string[]): ScaleChange[] {
  const changes: ScaleChange[] = [];
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    const value = argv[i + 1];
    const mode = flag === "--set" ? "set" : flag === "--at-least" ? "atLeast" : undefined;
    if (!mode) throw new UsageError(`unknown argument "${flag}": expected --set NAME=REPLICAS or --at-least NAME=REPLICAS`);
    const match = /^([^=]+)=(\d{1,4})$/.exec(value ?? "");
    if (!match || !NAME.test(match[1])) throw new UsageError(`${flag}: expected DEPLOYMENT=REPLICAS (a Deployment name and a whole number), found "${value ?? ""}"`);
    changes.push({ deployment: match[1], replicas: Number(match[2]), mode });
  }
  if (changes.length === 0) throw new UsageError("expected at least one --set NAME=REPLICAS or --at-least NAME=REPLICAS");
  return changes;
}

interface ApiClient {
  call(method: "GET" | "PUT", path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

/** The in-cluster API client: KUBERNETES_SERVICE_HOST/PORT, the mounted token and CA (read per call: the kubelet rotates the token). */
export async function inClusterClient(env: NodeJS.ProcessEnv, serviceAccountDir = SERVICE_ACCOUNT_DIR): Promise<{ client: ApiClient; namespace: string }> {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? "443";
  if (!host) throw new UsageError("KUBERNETES_SERVICE_HOST is not set: this program runs in a pod, with its service account's token mounted");
  const ca = await readFile(join(serviceAccountDir, "ca.crt"));
  const namespace = (await readFile(join(serviceAccountDir, "namespace"), "utf8")).trim();
  const client: ApiClient = {
    async call(method, path, body) {
      const token = (await readFile(join(serviceAccountDir, "token"), "utf8")).trim();
      const payload = body === undefined ? undefined : JSON.stringify(body);
      return new Promise((resolve, reject) => {
        const req = request(
          {
            host: host.includes(":") ? `[${host}]` : host,
            port: Number(port),
            method,
            path,
            ca,
            timeout: 30_000,
            headers: { authorization: `Bearer ${token}`, accept: "application/json", ...(payload ? { "content-type": "application/json" } : {}) },
          },
          (res) =>
            readBody(res, MAX_ANSWER_BYTES).then((raw) => {
              const text = raw.toString("utf8");
              let parsed: unknown = text;
              try {
                parsed = JSON.parse(text);
              } catch {
                // Not JSON (a proxy's error page): keep the text for the error message.
              }
              resolve({ status: res.statusCode ?? 0, body: parsed });
            }, reject),
        );
        req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer from the API server in 30 s`)));
        req.on("error", reject);
        req.end(payload);
      });
    },
  };
  return { client, namespace };
}

const describe = (res: { status: number; body: any }) => `HTTP ${res.status}${typeof res.body === "object" && res.body?.message ? `: ${res.body.message}` : ""}`;

/** Applies one change through the scale subresource; returns the count before and after. */
export async function applyChange(client: ApiClient, namespace: string, change: ScaleChange): Promise<{ from: number; to: number }> {
  const path = `/apis/apps/v1/namespaces/${namespace}/deployments/${change.deployment}/scale`;
  for (let attempt = 0; ; attempt++) {
    const current = await client.call("GET", path);
    if (current.status !== 200) throw new Error(`reading the scale of deployment ${namespace}/${change.deployment}: ${describe(current)}`);
    const from = Number(current.body?.spec?.replicas ?? 0);
    const to = change.mode === "set" ? change.replicas : Math.max(from, change.replicas);
    if (to === from) return { from, to };
    // The resourceVersion makes the write fail (409) rather than overwrite a change made since the read.
    const scale = { apiVersion: "autoscaling/v1", kind: "Scale", metadata: { name: change.deployment, namespace, resourceVersion: current.body?.metadata?.resourceVersion }, spec: { replicas: to } };
    const written = await client.call("PUT", path, scale);
    if (written.status === 200) return { from, to };
    if (written.status === 409 && attempt < CONFLICT_RETRIES) continue;
    throw new Error(`scaling deployment ${namespace}/${change.deployment} to ${to}: ${describe(written)}`);
  }
}

async function main(): Promise<number> {
  const log = createLogger("scheduled-scaling");
  let changes: ScaleChange[];
  try {
    changes = parseArgs(process.argv.slice(2));
  } catch (err) {
    log.error((err as Error).message);
    return 2;
  }
  try {
    const { client, namespace } = await inClusterClient(process.env, process.env.SERVICE_ACCOUNT_DIR ?? SERVICE_ACCOUNT_DIR);
    for (const change of changes) {
      const { from, to } = await applyChange(client, namespace, change);
      log.info(from === to ? "scale unchanged" : "scaled", { deployment: change.deployment, namespace, from, to });
    }
    return 0;
  } catch (err) {
    log.error((err as Error).message);
    return err instanceof UsageError ? 2 : 1;
  }
}

if (require.main === module) {
  void main().then((code) => {
    process.exitCode = code;
  });
}
