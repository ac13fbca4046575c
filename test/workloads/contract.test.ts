/**
 * The workloads mirror the image's ports, variables, paths, commands and metric names in
 * constructs/workloads/contract.ts (the image is another workspace, not compiled into the library).
 * This proves each mirrored value against the image's behaviour: its own config parsers, its
 * engine list, and the running server and license proxy.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import { Server as TlsServer } from "tls";
import { Registry } from "prom-client";
import * as os from "os";
import * as path from "path";
import {
  DCGM_METRICS,
  EXECUTION_PROVIDERS,
  IMAGE_COMMANDS,
  IMAGE_UID,
  INFERENCE_HEALTH,
  INFERENCE_IMAGE_VERSION,
  INFERENCE_PORT,
  LICENSE_PROXY_HEALTH,
  LICENSE_PROXY_PORT,
  METRICS,
  METRICS_PATH,
  MODEL_IMAGE,
  PROXY_ENV,
  PROXY_STATE_DIR,
  QUEUE_FULL_REASON,
  SERVER_ENV,
  SERVER_LIMITS,
  STT_ENGINES,
  TLS_SECRET,
  TTS_ENGINES,
} from "../../constructs/workloads/contract";
import * as engines from "../../inference-image/src/engines/config";
import { QueueFullError } from "../../inference-image/src/engines/types";
import { loadConfig as proxyConfigFromEnv } from "../../inference-image/src/license-proxy/config";
import { generateSigningKey, mintLease } from "../../inference-image/src/license-proxy/tools/mint";
import { ApiKeys, loadTeams } from "../../inference-image/src/server/auth";
import { serverConfigFromEnv } from "../../inference-image/src/server/config";
import { toHttpError } from "../../inference-image/src/server/errors";
import { silentLogger } from "../../inference-image/src/shared/log";
import { proxyHarness } from "../../inference-image/test/license/harness";
import { call } from "../../inference-image/test/license/helpers";
import { startServer, Started } from "../../inference-image/test/server/helpers";
import { MODEL_IMAGE_DIR } from "../../inference-image/src/model-import/image-build";
import { serverTlsFromEnv, watchServerTls } from "../../inference-image/src/server/tls";

jest.setTimeout(120_000);

const image = path.resolve(__dirname, "../../inference-image");
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "contract-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = path.join(scratch, name);
  fs.writeFileSync(p, text);
  return p;
};

test("the image version: the workspace's package version", () => {
  expect((JSON.parse(fs.readFileSync(path.join(image, "package.json"), "utf8")) as { version: string }).version).toBe(INFERENCE_IMAGE_VERSION);
});

const vendor = generateSigningKey();
const publicKeyFile = file("vendor.pem", vendor.publicPem);

test("ports and the proxy's state folder: the programs' defaults", () => {
  expect(serverConfigFromEnv({}).PORT).toBe(INFERENCE_PORT);
  const proxy = proxyConfigFromEnv({ [PROXY_ENV.licenseFile]: "/licenses/license.jwt", [PROXY_ENV.publicKeyFile]: publicKeyFile });
  expect(proxy).toMatchObject({ port: LICENSE_PROXY_PORT, stateDir: PROXY_STATE_DIR });
});

/** The engine variables the pods set for sherpa models synced to /models. */
const SHERPA_MODELS = {
  [SERVER_ENV.sttEngine]: "sherpa-whisper",
  [SERVER_ENV.sttModelDir]: "/models/stt",
  [SERVER_ENV.ttsEngine]: "sherpa-vits",
  [SERVER_ENV.ttsModelDir]: "/models/tts",
};

test("every variable the inference pods set is one the server reads, with the meaning the workloads give it", () => {
  const server = serverConfigFromEnv({
    [SERVER_ENV.port]: "9090",
    [SERVER_ENV.licenseProxyUrl]: "http://license-proxy.voice-selfhost.svc.cluster.local:3369",
    [SERVER_ENV.requestTimeoutMs]: "120000",
    [SERVER_ENV.shutdownGraceMs]: "125000",
  });
  expect(server).toMatchObject({ PORT: 9090, LICENSE_PROXY_URL: "http://license-proxy.voice-selfhost.svc.cluster.local:3369", REQUEST_TIMEOUT_MS: 120_000, SHUTDOWN_GRACE_MS: 125_000 });
  const keys = new ApiKeys(loadTeams({ [SERVER_ENV.apiKeysFile]: file("keys", "key-one-0123456789abcdef\nkey-two-0123456789abcdef\n") }));
  expect([keys.size, keys.verify("key-two-0123456789abcdef")?.team.name]).toEqual([2, "anonymous"]);
  const engine = engines.engineConfigFromEnv({ ...SHERPA_MODELS, [SERVER_ENV.workers]: "3", [SERVER_ENV.queueMax]: "7" });
  expect(engine).toMatchObject({ stt: { engine: "sherpa-whisper", modelDir: "/models/stt" }, tts: { engine: "sherpa-vits", modelDir: "/models/tts" }, workers: 3, queueMax: 7 });
});

test("the inference pods' execution-provider and usage-log variables are ones the server reads, with the meaning the workloads give them", () => {
  const engine = engines.engineConfigFromEnv({ ...SHERPA_MODELS, [SERVER_ENV.sttProvider]: "cuda", [SERVER_ENV.ttsProvider]: "auto" });
  expect(engine).toMatchObject({ stt: { engine: "sherpa-whisper", provider: "cuda" }, tts: { engine: "sherpa-vits", provider: "auto" } });
  expect(serverConfigFromEnv({ [SERVER_ENV.usageWalDir]: "/tmp/usage-wal" })).toMatchObject({ USAGE_WAL_DIR: "/tmp/usage-wal" });
});

test("every variable the license proxy pods set is one the proxy reads", () => {
  const online = proxyConfigFromEnv({
    [PROXY_ENV.port]: "4000",
    [PROXY_ENV.serverUrl]: "https://license.example.com/",
    [PROXY_ENV.keyFile]: file("license-key", "lk-0123456789"),
    [PROXY_ENV.stateDir]: "/state",
    [PROXY_ENV.publicKeyFile]: publicKeyFile,
  });
  expect(online).toMatchObject({ port: 4000, mode: "online", licenseServerUrl: "https://license.example.com", licenseKey: "lk-0123456789", stateDir: "/state" });
  const offline = proxyConfigFromEnv({ [PROXY_ENV.licenseFile]: "/licenses/license.jwt", [PROXY_ENV.publicKeyFile]: publicKeyFile });
  expect(offline).toMatchObject({ mode: "offline", licenseFile: "/licenses/license.jwt" });
  expect(offline.vendorKey).toBeDefined();
});

test("the server's bounds on the values the workloads derive", () => {
  const accepts = (name: string, value: number) => () => serverConfigFromEnv({ [name]: String(value) });
  const { requestTimeoutMs, shutdownGraceMs } = SERVER_LIMITS;
  expect(accepts(SERVER_ENV.requestTimeoutMs, requestTimeoutMs.min)).not.toThrow();
  expect(accepts(SERVER_ENV.requestTimeoutMs, requestTimeoutMs.max)).not.toThrow();
  expect(accepts(SERVER_ENV.requestTimeoutMs, requestTimeoutMs.min - 1)).toThrow(/REQUEST_TIMEOUT_MS/);
  expect(accepts(SERVER_ENV.requestTimeoutMs, requestTimeoutMs.max + 1)).toThrow(/REQUEST_TIMEOUT_MS/);
  expect(accepts(SERVER_ENV.shutdownGraceMs, shutdownGraceMs.max)).not.toThrow();
  expect(accepts(SERVER_ENV.shutdownGraceMs, shutdownGraceMs.max + 1)).toThrow(/SHUTDOWN_GRACE_MS/);
});

test("engine names: the image's own lists", () => {
  expect(STT_ENGINES).toEqual(engines.STT_ENGINES);
  expect(TTS_ENGINES).toEqual(engines.TTS_ENGINES);
});

test("execution providers: the image's own list", () => {
  expect(EXECUTION_PROVIDERS).toEqual(engines.EXECUTION_PROVIDERS);
});

test("a full queue is answered with the code the rejection metric's reason label carries", () => {
  expect(toHttpError(new QueueFullError(1), silentLogger, "req-1")).toMatchObject({ status: 429, code: QUEUE_FULL_REASON });
});

describe("the running inference server", () => {
  let server: Started;
  beforeAll(async () => {
    server = await startServer({ workers: 1 });
  });
  afterAll(() => server?.stop());

  test("answers its health routes (the probes and the load balancer's health check) and the metrics path without an API key", async () => {
    expect((await fetch(`${server.base}${INFERENCE_HEALTH.live}`)).status).toBe(200);
    expect((await fetch(`${server.base}${INFERENCE_HEALTH.ready}`)).status).toBe(200);
    expect((await fetch(`${server.base}${METRICS_PATH}`)).status).toBe(200);
  });

  test("exports every metric the HPA, alerts and dashboard use under that exact name", async () => {
    const text = await (await fetch(`${server.base}${METRICS_PATH}`)).text();
    const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    const serverMetrics = Object.values(METRICS).filter((name) => name.startsWith("inference_"));
    // The TLS metrics come with TLS (below).
    const tlsMetrics: string[] = [METRICS.tlsReloadFailures, METRICS.tlsCertificateExpiry];
    expect(serverMetrics.filter((name) => !exported.has(name) && !tlsMetrics.includes(name))).toEqual([]);
  });
});

test("TLS: the server reads the certificate and key where the pods mount the Secret's keys, and exports the TLS metrics the alerts use", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "contract-tls-"));
  try {
    const files = { cert: path.join(dir, TLS_SECRET.certKey), key: path.join(dir, TLS_SECRET.keyKey) };
    spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=contract", "-keyout", files.key, "-out", files.cert], { stdio: "pipe" });
    const tls = serverTlsFromEnv({ [SERVER_ENV.tlsCertFile]: files.cert, [SERVER_ENV.tlsKeyFile]: files.key })!;
    expect(tls.certFile).toBe(files.cert);
    const registry = new Registry();
    const watcher = watchServerTls(new TlsServer(), tls, registry, silentLogger, 60_000);
    watcher.stop();
    const text = await registry.metrics();
    for (const name of [METRICS.tlsReloadFailures, METRICS.tlsCertificateExpiry]) expect(text).toContain(`# TYPE ${name} `);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("model images: the init container copies from where model-import's build puts the model", () => {
  expect(MODEL_IMAGE.dir).toBe(MODEL_IMAGE_DIR);
  expect(MODEL_IMAGE.copy("/models/stt")).toEqual(["cp", "-R", `${MODEL_IMAGE_DIR}/.`, "/models/stt"]);
});

describe("the running license proxy", () => {
  const proxy = proxyHarness();

  test("reads the offline variables, answers its health route and exports the metrics the alerts use", async () => {
    const licenseFile = file("license.jwt", await mintLease(vendor, { sub: "lic-contract", exp: Math.floor(Date.now() / 1000) + 600, grace_s: 0, features: ["stt", "tts"] }));
    const running = await proxy.start({
      [PROXY_ENV.licenseFile]: licenseFile,
      [PROXY_ENV.publicKeyFile]: publicKeyFile,
      [PROXY_ENV.stateDir]: path.join(scratch, "state"),
    });
    const health = await call(running.port, "GET", LICENSE_PROXY_HEALTH);
    expect(health).toMatchObject({ status: 200, body: { mode: "offline", license_id: "lic-contract", license_valid: true } });
    const metrics = await fetch(`http://127.0.0.1:${running.port}${METRICS_PATH}`);
    const exported = new Set([...(await metrics.text()).matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    const proxyMetrics = Object.values(METRICS).filter((name) => name.startsWith("license_proxy_"));
    expect(proxyMetrics.filter((name) => !exported.has(name))).toEqual([]);
    expect(Object.values(DCGM_METRICS).every((m) => m.startsWith("DCGM_FI_DEV_"))).toBe(true);
  });
});

/** The final stage's instructions of the image's Dockerfile, as Docker reads them (continuations joined, comments dropped). */
function finalStage(): { instruction: string; args: string }[] {
  const lines = fs.readFileSync(path.join(image, "Dockerfile"), "utf8").replace(/\\\n/g, " ").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  const parsed = lines.map((l) => ({ instruction: l.split(/\s+/)[0].toUpperCase(), args: l.slice(l.split(/\s+/)[0].length).trim() }));
  return parsed.slice(parsed.map((p) => p.instruction).lastIndexOf("FROM"));
}

test("the image's user and entry points: the final stage runs as the pods' UID, from the folder the commands are relative to", () => {
  const stage = finalStage();
  const last = (instruction: string) => stage.filter((s) => s.instruction === instruction).pop()?.args;
  expect(last("USER")).toBe(`${IMAGE_UID}:${IMAGE_UID}`);
  expect(last("WORKDIR")).toBe("/app/inference-image");
  expect(JSON.parse(last("CMD")!)).toEqual(IMAGE_COMMANDS.server);
  for (const command of Object.values(IMAGE_COMMANDS)) expect(fs.existsSync(path.join(image, command[1].replace(/^dist\//, "src/").replace(/\.js$/, ".ts")))).toBe(true);
});
