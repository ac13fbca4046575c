/**
 * TLS to the pod, with a real TLS client against the running server: it serves the certificate of a
 * Secret mounted as the kubelet mounts one (tls.crt, tls.key through `..data`), a replacement swapped in
 * by the kubelet's symlink swap reaches new connections with no restart while open ones keep theirs, and a
 * broken replacement leaves the last good certificate in use, logged and counted. WebSockets over TLS
 * (wss://) carry a live transcription. The certificates are made here with openssl (a self-signed one
 * per name), so the client verifies each against the one it trusts.
 */
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type Server as TlsServer, type TLSSocket } from "node:tls";
import { WebSocket } from "ws";
import type { MountedFilesWatcher } from "../../src/server/mounted-files";
import { readServerTls, serverTlsFromEnv, watchServerTls } from "../../src/server/tls";
import { createLogger } from "../../src/shared/log";
import { auth, MountedSecret, parseWav, startServer, type Started } from "./helpers";

jest.setTimeout(120_000);

interface Certificate {
  readonly cert: string;
  readonly key: string;
  readonly fingerprint: string;
}

const work = mkdtempSync(join(tmpdir(), "tls-test-"));
/** A self-signed P-256 certificate for 127.0.0.1, named `name` (openssl, as an operator would make one). */
function certificate(name: string): Certificate {
  const [certFile, keyFile] = [join(work, `${name}.crt`), join(work, `${name}.key`)];
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", `/CN=${name}`, "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", keyFile, "-out", certFile],
    { stdio: "pipe" },
  );
  const cert = readFileSync(certFile, "utf8");
  return { cert, key: readFileSync(keyFile, "utf8"), fingerprint: new X509Certificate(cert).fingerprint256 };
}

const first = certificate("first");
const second = certificate("second");
const third = certificate("third");
/** The client trusts the three certificates and verifies every connection against them. */
const ca = [first.cert, second.cert, third.cert];
const secretFiles = (c: Pick<Certificate, "cert" | "key">) => ({ "tls.crt": c.cert, "tls.key": c.key });

const logLines: { level: string; msg: string; error?: string }[] = [];
const logger = createLogger("test", { level: "info", write: (line) => void logLines.push(JSON.parse(line) as (typeof logLines)[number]) });

let secret: MountedSecret;
let s: Started;
let watcher: MountedFilesWatcher;

beforeAll(async () => {
  secret = new MountedSecret(secretFiles(first));
  const tls = serverTlsFromEnv({ TLS_CERT_FILE: secret.path("tls.crt"), TLS_KEY_FILE: secret.path("tls.key") })!;
  s = await startServer({ tls: tls.options, logger });
  // What main.ts does; a long interval, so each test looks (check) when it has changed the files.
  watcher = watchServerTls(s.app.server as unknown as TlsServer, tls, s.app.metrics.registry, logger, 3_600_000);
});

afterAll(async () => {
  watcher?.stop();
  await s?.stop();
  secret?.remove();
  rmSync(work, { recursive: true, force: true });
});

/** A new TLS connection, verified against `ca`: open, with the certificate it was served. */
function open(): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port: s.address.port, ca }, () => resolve(socket));
    socket.once("error", reject);
  });
}

async function servedFingerprint(): Promise<string> {
  const socket = await open();
  const fingerprint = socket.getPeerX509Certificate()!.fingerprint256;
  socket.destroy();
  return fingerprint;
}

/** An HTTPS request verified against `ca` (optionally on a socket already open). */
function https(path: string, init: { method?: string; headers?: Record<string, string>; body?: string; socket?: TLSSocket } = {}): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: s.address.port,
        path,
        method: init.method ?? "GET",
        headers: init.headers,
        ca,
        ...(init.socket ? { agent: false, createConnection: () => init.socket! } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      },
    );
    req.on("error", reject);
    req.end(init.body);
  });
}

const metric = async (name: string) => {
  const text = (await https("/metrics")).body.toString();
  return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
};

/** The kubelet swaps the files; the watcher applies a change once two looks agree. */
function swapIn(files: Record<string, string>): void {
  secret.write(files);
  watcher.check();
  watcher.check();
}

test("serves the mounted certificate over HTTPS, to a client that verifies it, and nothing in clear", async () => {
  expect(await servedFingerprint()).toBe(first.fingerprint);
  expect((await https("/health/live")).status).toBe(200);
  expect((await https("/v1/models")).status).toBe(401);
  expect((await https("/v1/models", { headers: auth })).status).toBe(200);
  expect(await metric("inference_tls_certificate_expiry_timestamp_seconds")).toBe(new Date(new X509Certificate(first.cert).validTo).getTime() / 1000);
  // Plain HTTP on the TLS port gets no answer from the routes.
  await expect(fetch(`http://127.0.0.1:${s.address.port}/health/live`)).rejects.toThrow();
});

test("a replaced Secret reaches new connections without a restart; an open connection keeps the certificate it was served", async () => {
  const before = await open();
  expect(before.getPeerX509Certificate()!.fingerprint256).toBe(first.fingerprint);
  swapIn(secretFiles(second));
  expect(await servedFingerprint()).toBe(second.fingerprint);
  expect(logLines.filter((l) => l.msg === "TLS certificate reloaded")).toHaveLength(1);
  // The connection opened before the swap, on the first certificate, still carries a request.
  expect((await https("/health/live", { socket: before })).status).toBe(200);
  before.destroy();
  expect(await metric("inference_tls_certificate_expiry_timestamp_seconds")).toBe(new Date(new X509Certificate(second.cert).validTo).getTime() / 1000);
});

test("a broken replacement keeps the last good certificate in use, and is logged and counted", async () => {
  const failures = await metric("inference_tls_reload_failures_total");
  // A key that does not belong to the certificate (a half-finished rotation).
  swapIn({ "tls.crt": third.cert, "tls.key": second.key });
  expect(await servedFingerprint()).toBe(second.fingerprint);
  expect(await metric("inference_tls_reload_failures_total")).toBe(failures + 1);
  expect(logLines.at(-1)).toMatchObject({ level: "error", msg: "TLS certificate reload failed; the last good certificate stays in use", error: expect.stringMatching(/tls\.crt with key .*tls\.key: .*key values mismatch/) });
  // Not PEM at all.
  swapIn({ "tls.crt": "not a certificate\n", "tls.key": "not a key\n" });
  expect(await servedFingerprint()).toBe(second.fingerprint);
  expect(await metric("inference_tls_reload_failures_total")).toBe(failures + 2);
  // The operator fixes it: served at once.
  swapIn(secretFiles(third));
  expect(await servedFingerprint()).toBe(third.fingerprint);
});

test("WebSocket routes work over TLS: a live transcription through wss://", async () => {
  const speech = await https("/v1/audio/speech", {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ model: "tts-1", input: "hello from a secure socket", response_format: "wav" }),
  });
  expect(speech.status).toBe(200);
  const { sampleRate, samples } = parseWav(speech.body);
  const ws = new WebSocket(`wss://127.0.0.1:${s.address.port}/v1/listen?encoding=linear16&sample_rate=${sampleRate}`, { headers: auth, ca });
  const messages: { type: string; channel?: { alternatives: { transcript: string }[] } }[] = [];
  const closed = new Promise<void>((resolve) => ws.on("close", () => resolve()));
  ws.on("message", (data) => messages.push(JSON.parse(String(data)) as (typeof messages)[number]));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  const pcm = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
  for (let at = 0; at < pcm.length; at += 3200) ws.send(pcm.subarray(at, at + 3200));
  ws.send(JSON.stringify({ type: "CloseStream" }));
  await closed;
  const transcript = messages
    .filter((m) => m.type === "Results")
    .map((m) => m.channel!.alternatives[0].transcript)
    .join(" ");
  expect(transcript).toMatch(/hello/);
  expect(messages.at(-1)!.type).toBe("Metadata");
});

describe("at start", () => {
  test("plain HTTP without TLS_CERT_FILE and TLS_KEY_FILE; one without the other, or files that do not go together, stop it naming the files", () => {
    expect(serverTlsFromEnv({})).toBeUndefined();
    expect(() => serverTlsFromEnv({ TLS_CERT_FILE: secret.path("tls.crt") })).toThrow(/TLS_CERT_FILE and TLS_KEY_FILE go together, found only TLS_CERT_FILE/);
    const crt = join(work, "first.crt");
    const wrongKey = join(work, "second.key");
    expect(() => readServerTls(crt, wrongKey)).toThrow(new RegExp(`^TLS certificate ${crt} with key ${wrongKey}: .*key values mismatch`));
    expect(() => readServerTls(join(work, "absent.crt"), wrongKey)).toThrow(/absent\.crt .*ENOENT/);
  });
});
