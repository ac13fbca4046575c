/** Shared by the server tests: a started server with the real built-in engines, and audio/WER helpers. */
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import type { AddressInfo } from "node:net";
import type { SecureContextOptions } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WebSocket } from "ws";
import { createSpeech, parseEngineConfig } from "../../src/engines";
import { metricValue, waitFor } from "../license/helpers";
import type { Speech } from "../../src/engines/types";
import { createInferenceServer, type InferenceServer } from "../../src/server/app";
import { ApiKeys, parseKeysFile } from "../../src/server/auth";
import { defaultServerConfig, type ServerConfig } from "../../src/server/config";
import type { LicenseGate } from "../../src/server/license";
import type { Logger } from "../../src/shared/log";

export const KEY = "test-key-0123456789abcdef";

export interface Started {
  app: InferenceServer;
  speech: Speech;
  base: string;
  address: AddressInfo;
  stop(): Promise<void>;
}

export async function startServer(
  options: {
    workers?: number;
    batchWorkers?: number;
    queueMax?: number;
    config?: Partial<ServerConfig>;
    license?: LicenseGate;
    speech?: Speech;
    keys?: ApiKeys;
    /** Serve HTTPS with this certificate and key (the base URL is then https://). */
    tls?: SecureContextOptions;
    logger?: Logger;
  } = {},
): Promise<Started> {
  const speech =
    options.speech ??
    (await createSpeech(
      parseEngineConfig({
        stt: { engine: "pocketsphinx" },
        tts: { engine: "flite" },
        workers: options.workers ?? 2,
        batchWorkers: options.batchWorkers,
        queueMax: options.queueMax,
        // Each live slot's decoder is made at startup; tests open few streams at once.
        streamsPerWorker: 2,
      }),
    ));
  const app = createInferenceServer({
    speech,
    // Stopping closes idle connections at once: the tests' own clients are done by then, and the drain that waits
    // for them is shutdown.test.ts's to prove.
    config: { ...defaultServerConfig(), SHUTDOWN_IDLE_CLOSE_MS: 0, ...options.config },
    keys: options.keys ?? new ApiKeys(parseKeysFile(KEY, "test")),
    license: options.license,
    tls: options.tls,
    logger: options.logger,
  });
  const address = await app.listen(0, "127.0.0.1");
  return {
    app,
    speech,
    address,
    base: `${options.tls ? "https" : "http"}://127.0.0.1:${address.port}`,
    async stop() {
      await app.close();
      if (!options.speech) await speech.close();
    },
  };
}

export const auth = { authorization: `Bearer ${KEY}` };

export const SENTENCE = "the quick brown fox jumps over the lazy dog near the river bank";

/** Parse a PCM16 mono WAV (as this server writes it, sizes possibly 0xFFFFFFFF). */
export function parseWav(buf: Buffer): { sampleRate: number; channels: number; bits: number; samples: Int16Array } {
  expect(buf.toString("latin1", 0, 4)).toBe("RIFF");
  expect(buf.toString("latin1", 8, 12)).toBe("WAVE");
  expect(buf.toString("latin1", 36, 40)).toBe("data");
  const data = buf.subarray(44);
  const samples = new Int16Array(data.length >> 1);
  for (let i = 0; i < samples.length; i++) samples[i] = data.readInt16LE(i * 2);
  return { sampleRate: buf.readUInt32LE(24), channels: buf.readUInt16LE(22), bits: buf.readUInt16LE(34), samples };
}

/** Synthesize through the server's own speech route: test audio made by Flite (pocketsphinx handles it well). */
export async function synthesizeWav(base: string, text: string, voice = "slt"): Promise<Buffer> {
  const res = await fetch(`${base}/v1/audio/speech`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ model: "tts-1", input: text, voice, response_format: "wav" }),
  });
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

/** ADTS frames back to back: [sampling-frequency index, channel configuration] of each, or a throw at the first gap. */
export function adtsFrames(aac: Buffer): [number, number][] {
  const frames: [number, number][] = [];
  for (let at = 0; at < aac.length; ) {
    if (aac[at] !== 0xff || (aac[at + 1] & 0xf6) !== 0xf0) throw new Error(`no ADTS sync at byte ${at}`);
    frames.push([(aac[at + 2] >> 2) & 0x0f, ((aac[at + 2] & 1) << 2) | (aac[at + 3] >> 6)]);
    at += ((aac[at + 3] & 3) << 11) | (aac[at + 4] << 3) | (aac[at + 5] >> 5);
  }
  return frames;
}

/**
 * A WAV transcription (`POST /v1/listen`) the server has admitted and not finished: the body's first half is sent, and
 * this resolves once the server's /metrics counts a request in flight. A SIGTERM sent then lands mid-request however
 * loaded the machine is (a fixed sleep may land before the request has even connected). `finish` sends the rest and
 * resolves with the response.
 */
export async function admittedTranscription(base: string, key: string, wav: Buffer): Promise<{ finish: () => Promise<{ status: number; body: string }> }> {
  const url = new URL("/v1/listen", base);
  let response!: Promise<{ status: number; body: string }>;
  const req = request(url, { method: "POST", headers: { authorization: `Token ${key}`, "content-type": "audio/wav", "content-length": wav.length } });
  response = new Promise((resolve, reject) => {
    req.on("error", reject);
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
  });
  const half = Math.floor(wav.length / 2);
  req.write(wav.subarray(0, half));
  await waitFor("the server to count the transcription in flight", async () => (await metricValue(base, "inference_inflight_requests")) > 0, 60_000, 50);
  return {
    finish: () => {
      req.end(wav.subarray(half));
      return response;
    },
  };
}

/** Try a WebSocket upgrade: the refusal's status and body, or 101 (and the socket closed again) when it opens. */
export function upgradeStatus(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers });
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on("open", () => {
      ws.close();
      resolve({ status: 101, body: "" });
    });
    ws.on("error", () => undefined);
  });
}

/**
 * A Secret volume as the kubelet lays it out: each file `<name> -> ..data/<name>`, `..data -> ..<timestamp>/`.
 * `write` replaces every file at once, as the kubelet's atomic writer does: a new timestamped directory,
 * a new `..data_tmp` link renamed over `..data`, the old directory removed.
 */
export class MountedSecret {
  readonly dir = mkdtempSync(join(tmpdir(), "mounted-secret-"));
  private generation = 0;
  private current: string | undefined;

  constructor(files: Record<string, string | Buffer>) {
    this.write(files);
    for (const name of Object.keys(files)) symlinkSync(`..data/${name}`, join(this.dir, name));
  }

  /** The file as the container sees it, through `..data`. */
  path(name: string): string {
    return join(this.dir, name);
  }

  write(files: Record<string, string | Buffer>): void {
    const next = `..2026_12_01_00_00_${String(this.generation++).padStart(2, "0")}.${process.pid}`;
    mkdirSync(join(this.dir, next));
    for (const [name, content] of Object.entries(files)) writeFileSync(join(this.dir, next, name), content);
    symlinkSync(next, join(this.dir, "..data_tmp"));
    renameSync(join(this.dir, "..data_tmp"), join(this.dir, "..data"));
    if (this.current) rmSync(join(this.dir, this.current), { recursive: true });
    this.current = next;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
