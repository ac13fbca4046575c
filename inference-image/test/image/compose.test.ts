/**
 * The single-host quick start (compose.yaml at the repository root) with podman-compose and the locally
 * built image: both services start, the proxy holds an offline license minted by the project's mint
 * tool, the stock clients get a transcription and speech through the licensed server, and `down`
 * leaves the usage spool on the proxy's named volume.
 */
import { DeepgramClient } from "@deepgram/sdk";
import OpenAI, { toFile } from "openai";
import { spawnSync } from "node:child_process";
import { chmodSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { wordErrorRate } from "../engines/helpers";
import { KEY, parseWav, SENTENCE, synthesizeWav } from "../server/helpers";
import { freePort } from "../license/helpers";
import { describeWithImage, IMAGE, mintOfflineLicense, PODMAN_GLOBAL, podman, removeDir, REPO_ROOT, RUN_LIMITS, sharedDir, waitFor } from "./podman";

jest.setTimeout(300_000);

const project = `vs-compose-${process.pid}`;
const volume = `${project}_license-state`;
const serverVolume = `${project}_inference-state`;

describeWithImage("compose quick start", ["podman", "podman-compose"], () => {
  let secrets = "";
  let env: NodeJS.ProcessEnv = {};
  let base = "";

  const compose = (args: string[]) => {
    const r = spawnSync(
      "podman-compose",
      ["--podman-args", PODMAN_GLOBAL.join(" "), "--podman-run-args", RUN_LIMITS.join(" "), "-p", project, "-f", path.join(REPO_ROOT, "compose.yaml"), ...args],
      { cwd: REPO_ROOT, env, encoding: "utf8", timeout: 180_000 },
    );
    if (r.status !== 0) throw new Error(`podman-compose ${args.join(" ")} failed (${r.status}): ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  /** /health of the proxy, from inside its container: the proxy publishes no port. */
  const proxyHealth = () =>
    JSON.parse(podman(["exec", `${project}_license-proxy_1`, "node", "-e", "fetch('http://127.0.0.1:3369/health').then(r=>r.text()).then(t=>process.stdout.write(t))"]).stdout) as Record<string, unknown>;

  beforeAll(async () => {
    secrets = sharedDir("vs-compose-secrets-");
    const minted = mintOfflineLicense(secrets, "lic-compose-test");
    renameSync(minted.publicKey, path.join(secrets, "license-public-key.pem"));
    for (const [name, text] of [["api-keys", `${KEY}\n`], ["grafana-admin-password", "unused-in-this-test\n"]]) writeFileSync(path.join(secrets, name), text);
    for (const name of ["api-keys", "grafana-admin-password", "license-public-key.pem"]) chmodSync(path.join(secrets, name), 0o644);
    const port = await freePort();
    env = { ...process.env, SECRETS_DIR: secrets, INFERENCE_PORT: String(port), INFERENCE_IMAGE: IMAGE };
    base = `http://127.0.0.1:${port}`;
    // podman-compose 1.0 has no profiles: name the default services (the monitoring ones need Docker Hub).
    compose(["up", "-d", "license-proxy", "inference"]);
  });

  afterAll(() => {
    try {
      compose(["down"]);
    } catch {
      // already down
    }
    podman(["volume", "rm", "-f", volume, serverVolume], { allowFail: true });
    if (secrets) removeDir(secrets);
  });

  it("starts both services; the proxy holds the offline license", async () => {
    await waitFor("the server to be ready", async () => (await fetch(`${base}/health/ready`)).ok, 120_000);
    expect(proxyHealth()).toMatchObject({ mode: "offline", license_valid: true, license_id: "lic-compose-test" });
    // The server's usage write-ahead folder is on its named volume, made by the server (uid 1000) itself.
    expect(podman(["exec", `${project}_inference_1`, "stat", "-c", "%u %F", "/var/lib/inference/usage-wal"]).stdout.trim()).toBe("1000 directory");
  });

  it("serves a transcription and speech to the stock clients, licensed through the proxy", async () => {
    const openai = new OpenAI({ apiKey: KEY, baseURL: `${base}/v1`, maxRetries: 0 });
    const wav = await synthesizeWav(base, SENTENCE);
    const t = await openai.audio.transcriptions.create({ file: await toFile(wav, "speech.wav"), model: "whisper-1" });
    expect(wordErrorRate(SENTENCE, t.text)).toBeLessThanOrEqual(0.25);
    const deepgram = new DeepgramClient({ apiKey: KEY, baseUrl: base });
    const speech = await deepgram.speak.v1.audio.generate({ text: "hello from compose", model: "aura-2-thalia-en", encoding: "linear16", container: "wav" });
    expect(parseWav(Buffer.from(await speech.arrayBuffer())).samples.length).toBeGreaterThan(16000);
    // The server reports usage to the proxy, which spools it (offline: until an export).
    await waitFor("usage in the spool", async () => Number(proxyHealth().spool_depth) >= 3);
  });

  it("`down` leaves the usage spool on the named volume", () => {
    compose(["down"]);
    expect(podman(["ps", "-a", "--filter", `name=${project}_`, "--format", "{{.Names}}"]).stdout.trim()).toBe("");
    const exported = podman([
      "run", "--rm", ...RUN_LIMITS, "--read-only", "--tmpfs", "/tmp", "-v", `${volume}:/var/lib/license-proxy`,
      IMAGE, "license-proxy", "export-usage", "--out", "/tmp/usage.json",
    ]).stdout;
    const n = Number(/exported (\d+) usage records/.exec(exported)?.[1]);
    expect(n).toBeGreaterThanOrEqual(3);
  });
});
