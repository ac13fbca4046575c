/**
 * The workloads mirror the image's ports, variables, paths, commands and metric names in
 * constructs/workloads/contract.ts (the image is another workspace). This reads the image's sources
 * and Dockerfile and proves every mirrored value is still what the programs use.
 */
import * as fs from "fs";
import * as path from "path";
import {
  DCGM_METRICS,
  IMAGE_COMMANDS,
  IMAGE_UID,
  INFERENCE_HEALTH,
  INFERENCE_IMAGE_VERSION,
  INFERENCE_PORT,
  LICENSE_PROXY_HEALTH,
  LICENSE_PROXY_PORT,
  METRICS,
  METRICS_PATH,
  PROXY_ENV,
  PROXY_STATE_DIR,
  QUEUE_FULL_REASON,
  SERVER_ENV,
  SERVER_LIMITS,
  STT_ENGINES,
  TTS_ENGINES,
} from "../../constructs/workloads/contract";

const image = path.resolve(__dirname, "../../inference-image");
const read = (file: string) => fs.readFileSync(path.join(image, file), "utf8");
const serverSources = ["src/server/config.ts", "src/server/auth.ts", "src/engines/config.ts", "src/server/app.ts"].map(read).join("\n");
const proxySources = ["src/license-proxy/config.ts", "src/license-proxy/server.ts"].map(read).join("\n");

test("the image version: the workspace's package version", () => {
  expect(JSON.parse(read("package.json")).version).toBe(INFERENCE_IMAGE_VERSION);
});

test("ports: the programs' defaults", () => {
  expect(read("src/server/config.ts")).toMatch(new RegExp(`PORT: int\\(${INFERENCE_PORT},`));
  expect(read("src/license-proxy/config.ts")).toMatch(new RegExp(`\\.default\\(${LICENSE_PROXY_PORT}\\)`));
});

test("environment variables the pods set are ones the programs read", () => {
  for (const name of Object.values(SERVER_ENV)) expect(serverSources).toContain(name);
  for (const name of Object.values(PROXY_ENV)) expect(proxySources).toContain(name);
  expect(read("src/license-proxy/config.ts")).toContain(`STATE_DIR: z.string().min(1).default("${PROXY_STATE_DIR}")`);
});

test("the server's bounds on the values the workloads derive", () => {
  const config = read("src/server/config.ts");
  expect(config).toMatch(new RegExp(`REQUEST_TIMEOUT_MS: int\\([\\d_]+, ${SERVER_LIMITS.requestTimeoutMs.min}, ${SERVER_LIMITS.requestTimeoutMs.max.toLocaleString("en").replace(/,/g, "_")}\\)`));
  expect(config).toMatch(new RegExp(`SHUTDOWN_GRACE_MS: int\\([\\d_]+, 0, ${SERVER_LIMITS.shutdownGraceMs.max.toLocaleString("en").replace(/,/g, "_")}\\)`));
});

test("engine names", () => {
  const engines = read("src/engines/config.ts");
  expect(engines).toContain(`STT_ENGINES = [${STT_ENGINES.map((e) => `"${e}"`).join(", ")}] as const`);
  expect(engines).toContain(`TTS_ENGINES = [${TTS_ENGINES.map((e) => `"${e}"`).join(", ")}] as const`);
});

test("health and metrics routes", () => {
  const app = read("src/server/app.ts");
  expect(app).toContain(`path: "${INFERENCE_HEALTH.live}"`);
  expect(app).toContain(`path: "${INFERENCE_HEALTH.ready}"`);
  expect(app).toContain(`"${METRICS_PATH}"`);
  expect(read("src/license-proxy/server.ts")).toContain(`path === "${LICENSE_PROXY_HEALTH}"`);
  expect(read("src/license-proxy/server.ts")).toContain(`"${METRICS_PATH}"`);
});

test("every metric the HPA, alerts and dashboard use is exported under that exact name", () => {
  const exported = read("src/server/metrics.ts") + read("src/license-proxy/metrics.ts");
  for (const name of Object.values(METRICS)) expect(exported).toContain(`name: "${name}"`);
  // The 429's error code is the metric's reason label (app.ts and live.ts count rejections by it).
  expect(read("src/server/errors.ts")).toContain(`"${QUEUE_FULL_REASON}"`);
  expect(Object.values(DCGM_METRICS).every((m) => m.startsWith("DCGM_FI_DEV_"))).toBe(true);
});

test("the image's user and entry points", () => {
  const dockerfile = read("Dockerfile");
  expect(dockerfile).toContain(`USER ${IMAGE_UID}:${IMAGE_UID}`);
  expect(dockerfile).toContain("WORKDIR /app/inference-image");
  expect(dockerfile).toContain(`CMD ${JSON.stringify(IMAGE_COMMANDS.server).replace(/","/g, '", "')}`);
  for (const command of Object.values(IMAGE_COMMANDS)) expect(fs.existsSync(path.join(image, command[1].replace(/^dist\//, "src/").replace(/\.js$/, ".ts")))).toBe(true);
});
