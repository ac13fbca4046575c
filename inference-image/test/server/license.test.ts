/** The license hook against a small in-test double of the license proxy (protocol: src/shared/license-protocol.ts). */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocket } from "ws";
import { type AuthorizeResponse, authorizeRequestSchema, type UsageRecord, usageBatchSchema } from "../../src/shared/license-protocol";
import { silentLogger } from "../../src/shared/log";
import { ProxyLicense } from "../../src/server/license";
import { auth, KEY, SENTENCE, startServer, type Started, synthesizeWav } from "./helpers";

jest.setTimeout(120_000);

interface Double {
  url: string;
  server: Server;
  decision: AuthorizeResponse;
  /** Usage uploads to refuse (503) before accepting. */
  failUploads: number;
  uploads: number;
  accepted: UsageRecord[];
  authorizeCalls: number;
}

const REFUSED_MODEL = "refused-by-the-proxy";

async function startDouble(): Promise<Double> {
  const d: Double = {
    url: "",
    server: createServer(),
    decision: { allowed: true, license_id: "lic-test", valid_until: new Date(Date.now() + 3_600_000).toISOString(), grace_period_active: false },
    failUploads: 0,
    uploads: 0,
    accepted: [],
    authorizeCalls: 0,
  };
  d.server.on("request", (req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const reply = (status: number, value: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(value));
      };
      if (req.url === "/v1/authorize") {
        d.authorizeCalls++;
        authorizeRequestSchema.parse(JSON.parse(body));
        return reply(d.decision.allowed ? 200 : 403, d.decision);
      }
      if (req.url === "/v1/usage") {
        d.uploads++;
        // Exactly the protocol's shape: the strict schema rejects any extra field.
        const batch = usageBatchSchema.parse(JSON.parse(body));
        // A proxy of another version could refuse what this one's schema allows: here, one model name.
        if (batch.records.some((r) => r.model === REFUSED_MODEL)) return reply(400, { error: { code: "invalid_usage" } });
        if (d.failUploads > 0) {
          d.failUploads--;
          return reply(503, { error: "spool unavailable" });
        }
        d.accepted.push(...batch.records);
        return reply(202, { accepted: batch.records.length });
      }
      reply(404, {});
    });
  });
  await new Promise<void>((r) => d.server.listen(0, "127.0.0.1", r));
  d.url = `http://127.0.0.1:${(d.server.address() as AddressInfo).port}`;
  return d;
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

let proxy: Double;
let s: Started;
let license: ProxyLicense;

beforeAll(async () => {
  proxy = await startDouble();
  license = new ProxyLicense({ url: proxy.url, models: { stt: "pocketsphinx-en-us", "stt-live": "pocketsphinx-en-us", tts: "flite" }, logger: silentLogger, refreshMs: 100, flushMs: 100 });
  // The last test leaves records the moved proxy never acknowledges; stopping retries them for the shutdown grace
  // (25 s by default). Delivery during a graceful stop is fault/usage.test.ts's to prove: here the grace is short.
  s = await startServer({ license, config: { SHUTDOWN_GRACE_MS: 1000 } });
  await license.start();
});

afterAll(async () => {
  await s?.stop();
  await new Promise((r) => proxy?.server.close(r));
});

describe("license hook", () => {
  it("is ready and serves while the proxy allows, reporting one metadata-only usage record per request", async () => {
    const ready = await fetch(`${s.base}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ license: { mode: "proxy", allowed: true, license_id: "lic-test" } });
    const wav = await synthesizeWav(s.base, SENTENCE);
    const form = new FormData();
    form.append("file", new Blob([wav]), "a.wav");
    form.append("model", "whisper-1");
    const stt = await fetch(`${s.base}/v1/audio/transcriptions`, { method: "POST", headers: auth, body: form });
    expect(stt.status).toBe(200);
    await until(() => proxy.accepted.length >= 2);
    const [tts, asr] = proxy.accepted;
    expect(Object.keys(asr).sort()).toEqual(["audio_seconds", "characters", "features", "id", "model", "status_code", "timestamp"]);
    expect(tts).toMatchObject({ model: s.speech.tts.id, status_code: 200, characters: SENTENCE.length, features: expect.arrayContaining(["tts"]) });
    expect(asr).toMatchObject({ model: s.speech.stt.id, status_code: 200, characters: 0, features: expect.arrayContaining(["stt"]) });
    expect(asr.audio_seconds).toBeGreaterThan(2);
    // Metadata only: no text or transcript words anywhere in what was sent.
    expect(JSON.stringify(proxy.accepted)).not.toMatch(/quick|brown|fox/);
  });

  it("keeps usage records until the proxy acknowledges them, without duplicates", async () => {
    proxy.failUploads = 2;
    const before = proxy.accepted.length;
    const uploadsBefore = proxy.uploads;
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${s.base}/v1/speak`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ text: "count me" }) });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    await until(() => proxy.accepted.length >= before + 3);
    expect(proxy.uploads - uploadsBefore).toBeGreaterThanOrEqual(3);
    expect(new Set(proxy.accepted.map((r) => r.id)).size).toBe(proxy.accepted.length);
    // The double counts a record when it answers; the server drops it from its buffer when the answer arrives.
    await until(() => license.usageBacklog().pending === 0);
    expect(license.usageBacklog()).toEqual({ pending: 0, dropped: 0, invalid: 0 });
  });

  it("drops a record that breaks the contract, counted, and never lets it block the others", async () => {
    const before = proxy.accepted.length;
    // 31 repeated timestamp_granularities[] fields (with `model`, the 32 the form allows): a valid request, and one record with a short feature set.
    const form = new FormData();
    form.append("file", new Blob([await synthesizeWav(s.base, "one odd request")]), "a.wav");
    form.append("model", "whisper-1");
    for (let i = 0; i < 31; i++) form.append("timestamp_granularities[]", i % 2 ? "word" : "segment");
    expect((await fetch(`${s.base}/v1/audio/transcriptions`, { method: "POST", headers: auth, body: form })).status).toBe(200);
    // Caught here (40 distinct features, over the contract's 32), and refused by the proxy (400): both dropped, both counted.
    license.record({ model: "flite", features: Array.from({ length: 40 }, (_, i) => `f${i}`), status_code: 200, audio_seconds: 0, characters: 1 });
    license.record({ model: REFUSED_MODEL, features: ["tts"], status_code: 200, audio_seconds: 0, characters: 1 });
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${s.base}/v1/speak`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ text: "after the odd one" }) });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    await until(() => license.usageBacklog().pending === 0);
    const arrived = proxy.accepted.slice(before);
    // The synthesis that made the test audio, the odd transcription, then the five after it.
    expect(arrived).toHaveLength(1 + 1 + 5);
    expect(arrived[1].features.sort()).toEqual(["format:json", "stt", "timestamps:segment", "timestamps:word"]);
    expect(arrived.slice(2).every((r) => r.characters === "after the odd one".length)).toBe(true);
    expect(license.usageBacklog()).toMatchObject({ pending: 0, invalid: 2 });
    expect(await (await fetch(`${s.base}/metrics`)).text()).toMatch(/^inference_usage_records_invalid 2$/m);
  });

  it("records each WebSocket session under its request id: the 101's header and the id the session reports", async () => {
    /** Open a socket, run `talk`, wait for the close; the request id from the 101's header and the JSON messages. */
    async function session(path: string, header: string, talk: (ws: WebSocket) => void) {
      const ws = new WebSocket(`ws://127.0.0.1:${s.address.port}${path}`, { headers: { authorization: `Token ${KEY}` } });
      const messages: { type?: string; request_id?: string }[] = [];
      ws.on("message", (m: Buffer, binary: boolean) => void (binary || messages.push(JSON.parse(m.toString()))));
      const upgradeId = new Promise<string>((resolve) => ws.once("upgrade", (res) => resolve(String(res.headers[header]))));
      await new Promise((resolve) => ws.once("open", resolve));
      const closed = new Promise((resolve) => ws.once("close", resolve));
      talk(ws);
      await closed;
      return { id: await upgradeId, messages };
    }
    const live = await session("/v1/listen?encoding=linear16&sample_rate=16000", "dg-request-id", (ws) => {
      ws.send(Buffer.alloc(3200));
      ws.send(JSON.stringify({ type: "CloseStream" }));
    });
    expect(live.messages.find((m) => m.type === "Metadata")?.request_id).toBe(live.id);
    const speak = await session("/v1/speak?encoding=linear16", "dg-request-id", (ws) => {
      ws.send(JSON.stringify({ type: "Speak", text: "Hello." }));
      ws.send(JSON.stringify({ type: "Close" }));
    });
    expect(speak.messages.find((m) => m.type === "Metadata")?.request_id).toBe(speak.id);
    const realtime = await session("/v1/realtime?intent=transcription", "x-request-id", (ws) => ws.close());
    expect(realtime.messages[0]?.type).toBe("transcription_session.created");

    const ids = [live.id, speak.id, realtime.id];
    expect(new Set(ids).size).toBe(3);
    await until(() => ids.every((id) => proxy.accepted.some((r) => r.id === id)));
    const record = (id: string) => proxy.accepted.find((r) => r.id === id);
    expect(record(live.id)).toMatchObject({ status_code: 101, features: expect.arrayContaining(["stt-live"]), audio_seconds: 0.1 });
    expect(record(speak.id)).toMatchObject({ status_code: 101, features: expect.arrayContaining(["speak-websocket"]), characters: 6 });
    expect(record(realtime.id)).toMatchObject({ status_code: 101, features: expect.arrayContaining(["openai-realtime"]) });
  });

  it("answers a retryable 503, not a 403, while the proxy has no lease yet (its cold start)", async () => {
    const allowed = proxy.decision;
    proxy.decision = { allowed: false, code: "NO_LICENSE", message: "no lease yet" };
    try {
      await until(async () => (await fetch(`${s.base}/health/ready`)).status === 503);
      const res = await fetch(`${s.base}/v1/speak`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ text: "hi" }) });
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("1");
      expect(await res.json()).toMatchObject({ err_code: "NO_LICENSE" });
    } finally {
      proxy.decision = allowed;
    }
    await until(async () => (await fetch(`${s.base}/health/ready`)).status === 200);
  });

  it("refuses with 403 and the proxy's code and message when the license is denied, and is not ready", async () => {
    proxy.decision = { allowed: false, code: "NOT_ENTITLED", message: "this license does not include speech" };
    await until(async () => (await fetch(`${s.base}/health/ready`)).status === 503);
    const dg = await fetch(`${s.base}/v1/speak`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ text: "hi" }) });
    expect(dg.status).toBe(403);
    expect(await dg.json()).toMatchObject({ err_code: "NOT_ENTITLED", err_msg: "this license does not include speech" });
    const oa = await fetch(`${s.base}/v1/audio/speech`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ model: "tts-1", input: "hi" }) });
    expect(oa.status).toBe(403);
    expect(await oa.json()).toMatchObject({ error: { code: "NOT_ENTITLED", type: "permission_error" } });
    // Health and metrics still answer.
    expect((await fetch(`${s.base}/health/live`)).status).toBe(200);
    expect(await (await fetch(`${s.base}/metrics`)).text()).toMatch(/^inference_license_allowed 0$/m);
  });

  it("holds the last allowed decision while the proxy is unreachable, until it expires", async () => {
    proxy.decision = { allowed: true, license_id: "lic-test", valid_until: new Date(Date.now() + 2500).toISOString(), grace_period_active: true };
    await until(async () => (await fetch(`${s.base}/health/ready`)).status === 200);
    proxy.server.closeAllConnections();
    await new Promise((r) => proxy.server.close(r));
    const speak = () => fetch(`${s.base}/v1/speak?container=none`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ text: "still here" }) });
    const during = await speak();
    expect(during.status).toBe(200);
    await during.arrayBuffer();
    await until(async () => {
      const r = await speak();
      await r.arrayBuffer();
      return r.status === 403;
    });
    const after = await speak();
    expect(await after.json()).toMatchObject({ err_code: "LICENSE_EXPIRED" });
    // Restart the double on a new port for afterAll's close.
    proxy.server = createServer();
    await new Promise<void>((r) => proxy.server.listen(0, "127.0.0.1", r));
  });
});
