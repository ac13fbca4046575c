/**
 * The scheduled-scaling program run as the CronJobs run it (a real process, its service account files
 * mounted), against a stand-in for the Kubernetes API: an HTTPS server with its own CA that implements the
 * Deployment scale subresource (GET and PUT with resourceVersion, 409 on a stale write, 401/403). No API
 * server can run here; the stand-in covers the requests the program makes, the token and CA it presents
 * and trusts, and what it does with each answer. The HPA's side (it leaves a Deployment at 0 alone and
 * resumes once the count is raised) is Kubernetes' documented behaviour, not exercised here.
 */
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildOnce } from "../license/helpers";

jest.setTimeout(60_000);

const TOKEN = "service-account-token-of-the-scaler";
const NAMESPACE = "voice-selfhost";

let work: string;
let program: string;
let trustedCa: string;
let otherCa: string;
let key: Buffer;
let cert: Buffer;

/** A self-signed certificate for 127.0.0.1 (the API server's name in the pod is its Service address). */
function selfSigned(dir: string, name: string): { key: string; cert: string } {
  const keyPath = join(dir, `${name}.key`);
  const certPath = join(dir, `${name}.crt`);
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", keyPath, "-out", certPath, "-days", "1", "-subj", "/CN=kubernetes", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "pipe" });
  return { key: keyPath, cert: certPath };
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "scheduled-scaling-"));
  program = join(buildOnce(["scheduled-scaling/main.ts"], [join(__dirname, "../../src/scheduled-scaling"), join(__dirname, "../../src/shared")]), "scheduled-scaling", "main.js");
  const api = selfSigned(work, "api");
  key = readFileSync(api.key);
  cert = readFileSync(api.cert);
  trustedCa = api.cert;
  otherCa = selfSigned(work, "other").cert;
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Deployment {
  replicas: number;
  resourceVersion: number;
}

interface FakeApi {
  server: Server;
  port: number;
  deployments: Map<string, Deployment>;
  requests: { method: string; path: string; authorization?: string; body?: any }[];
  /** Called between a GET and the PUT that follows it: another writer (the HPA) changes the scale. */
  beforePut?: (name: string) => void;
  forbidden: Set<string>;
}

async function fakeApi(initial: Record<string, number>): Promise<FakeApi> {
  const api: FakeApi = {
    server: undefined as unknown as Server,
    port: 0,
    deployments: new Map(Object.entries(initial).map(([n, r]) => [n, { replicas: r, resourceVersion: 1 }])),
    requests: [],
    forbidden: new Set(),
  };
  api.server = createServer({ key, cert }, (req, res) => {
    let text = "";
    req.on("data", (c: Buffer) => (text += c.toString()));
    req.on("end", () => {
      const body = text ? JSON.parse(text) : undefined;
      api.requests.push({ method: req.method!, path: req.url!, authorization: req.headers.authorization, body });
      const answer = (status: number, payload: object) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(payload));
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return answer(401, { kind: "Status", message: "Unauthorized" });
      const m = new RegExp(`^/apis/apps/v1/namespaces/${NAMESPACE}/deployments/([^/]+)/scale$`).exec(req.url!);
      const name = m?.[1];
      if (!name || api.forbidden.has(name)) {
        return answer(403, { kind: "Status", message: `deployments.apps "${name}" is forbidden: User "system:serviceaccount:${NAMESPACE}:inference-scaler" cannot update resource "deployments/scale"` });
      }
      const d = api.deployments.get(name);
      if (!d) return answer(404, { kind: "Status", message: `deployments.apps "${name}" not found` });
      const scale = () => ({ apiVersion: "autoscaling/v1", kind: "Scale", metadata: { name, namespace: NAMESPACE, resourceVersion: String(d.resourceVersion) }, spec: { replicas: d.replicas }, status: { replicas: d.replicas } });
      if (req.method === "GET") return answer(200, scale());
      if (req.method === "PUT") {
        api.beforePut?.(name);
        api.beforePut = undefined;
        if (body?.metadata?.resourceVersion !== String(d.resourceVersion)) {
          return answer(409, { kind: "Status", message: `Operation cannot be fulfilled on deployments.apps "${name}": the object has been modified; please apply your changes to the latest version and try again` });
        }
        d.replicas = body.spec.replicas;
        d.resourceVersion++;
        return answer(200, scale());
      }
      return answer(405, { kind: "Status", message: "method not allowed" });
    });
  });
  await new Promise<void>((resolve) => api.server.listen(0, "127.0.0.1", resolve));
  api.port = (api.server.address() as AddressInfo).port;
  return api;
}

/** The service account folder the kubelet mounts: token, ca.crt, namespace. */
function serviceAccountDir(ca: string): string {
  const dir = mkdtempSync(join(work, "sa-"));
  writeFileSync(join(dir, "token"), TOKEN + "\n");
  writeFileSync(join(dir, "ca.crt"), readFileSync(ca));
  writeFileSync(join(dir, "namespace"), NAMESPACE);
  return dir;
}

function run(api: FakeApi, args: string[], ca = trustedCa): Promise<{ code: number | null; lines: any[]; stdout: string }> {
  const child = spawn(process.execPath, [program, ...args], {
    env: { PATH: process.env.PATH, KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: String(api.port), SERVICE_ACCOUNT_DIR: serviceAccountDir(ca) },
  });
  let stdout = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stdout += d.toString()));
  return new Promise((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, lines: stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)) })),
  );
}

let api: FakeApi;
afterEach(() => api?.server.close());

it("scales a Deployment to zero through the scale subresource, with the mounted token, trusting the mounted CA", async () => {
  api = await fakeApi({ inference: 3 });
  const { code, lines } = await run(api, ["--set", "inference=0"]);
  expect(code).toBe(0);
  expect(api.deployments.get("inference")!.replicas).toBe(0);
  expect(api.requests.map((r) => r.method)).toEqual(["GET", "PUT"]);
  expect(api.requests.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
  expect(api.requests[1].body).toMatchObject({ kind: "Scale", metadata: { name: "inference", namespace: NAMESPACE, resourceVersion: "1" }, spec: { replicas: 0 } });
  expect(lines).toContainEqual(expect.objectContaining({ msg: "scaled", deployment: "inference", from: 3, to: 0 }));
});

it("raises each service to its minimum in the morning, and never lowers a count the HPA has raised since", async () => {
  api = await fakeApi({ stt: 0, tts: 4 });
  const { code, lines } = await run(api, ["--at-least", "stt=2", "--at-least", "tts=2"]);
  expect(code).toBe(0);
  expect(api.deployments.get("stt")!.replicas).toBe(2);
  expect(api.deployments.get("tts")!.replicas).toBe(4);
  // tts was read, not written.
  expect(api.requests.filter((r) => r.method === "PUT").map((r) => r.path)).toEqual([`/apis/apps/v1/namespaces/${NAMESPACE}/deployments/stt/scale`]);
  expect(lines).toContainEqual(expect.objectContaining({ msg: "scale unchanged", deployment: "tts", from: 4, to: 4 }));
});

it("re-reads and decides again when another writer changed the scale between its read and its write (409)", async () => {
  api = await fakeApi({ inference: 0 });
  // Someone woke the service by hand and the HPA took it to 5 just before our write.
  api.beforePut = (name) => {
    const d = api.deployments.get(name)!;
    d.replicas = 5;
    d.resourceVersion++;
  };
  const { code } = await run(api, ["--at-least", "inference=2"]);
  expect(code).toBe(0);
  expect(api.deployments.get("inference")!.replicas).toBe(5);
  expect(api.requests.map((r) => r.method)).toEqual(["GET", "PUT", "GET"]);
});

it("fails with the API server's reason when its role does not allow the change, and changes nothing", async () => {
  api = await fakeApi({ inference: 2 });
  api.forbidden.add("inference");
  const { code, lines } = await run(api, ["--set", "inference=0"]);
  expect(code).toBe(1);
  expect(lines).toContainEqual(expect.objectContaining({ level: "error", msg: expect.stringMatching(/voice-selfhost\/inference: HTTP 403: .*cannot update resource "deployments\/scale"/) }));
  expect(api.deployments.get("inference")!.replicas).toBe(2);
});

it("refuses an API server whose certificate the mounted CA did not sign", async () => {
  api = await fakeApi({ inference: 2 });
  const { code, lines } = await run(api, ["--set", "inference=0"], otherCa);
  expect(code).toBe(1);
  expect(lines).toContainEqual(expect.objectContaining({ level: "error", msg: expect.stringMatching(/self[- ]signed|unable to verify|certificate/i) }));
  expect(api.requests).toEqual([]);
  expect(api.deployments.get("inference")!.replicas).toBe(2);
});

it("names the expected form of a bad argument and exits 2 without calling the API", async () => {
  api = await fakeApi({ inference: 2 });
  for (const args of [["--set", "inference"], ["--scale", "inference=0"], ["--set", "Inference=0"], []]) {
    const { code, lines } = await run(api, args);
    expect(code).toBe(2);
    expect(lines[0]).toMatchObject({ level: "error", msg: expect.stringMatching(/expected/) });
  }
  expect(api.requests).toEqual([]);
});
