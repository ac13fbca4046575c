/**
 * Teams over real HTTP and WebSocket, with the stock clients: scopes, per-team limits, rotation of a
 * Kubernetes-style mounted Secret (symlink swap) without a restart, and team-labelled metrics.
 */
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeepgramClient, DeepgramError } from "@deepgram/sdk";
import OpenAI, { toFile } from "openai";
import { ApiKeys, loadTeams, parseKeysFile } from "../../src/server/auth";
import { type KeysWatcher, watchKeysFile } from "../../src/server/keys-watcher";
import { silentLogger } from "../../src/shared/log";
import { Team } from "../../src/server/teams";
import { type LicenseGate, LocalLicense } from "../../src/server/license";
import { MountedSecret, parseWav, SENTENCE, startServer, type Started, upgradeStatus as upgrade } from "./helpers";

jest.setTimeout(120_000);

const sha = (key: string) => createHash("sha256").update(key).digest("hex");
const VOICEBOT_KEY = "vsh_voicebot_0123456789abcdef";
const BATCH_KEY = "vsh_batch_0123456789abcdef000";
const NOSCOPE_KEY = "vsh_noscope_0123456789abcdef0";
const TTS_KEY = "vsh_ttsonly_0123456789abcdef0";
const NEW_KEY = "vsh_newcomer_0123456789abcdef";
const ARCHIVE_KEY = "vsh_archive_0123456789abcdef0";

const teamsDoc = (extra: object[] = [], opts: { revoked?: boolean } = {}) =>
  JSON.stringify({
    teams: [
      { name: "voicebot", keys: [{ id: "vb-1", sha256: sha(VOICEBOT_KEY) }] },
      ...(opts.revoked
        ? []
        : [
            { name: "batch", keys: [{ id: "batch-1", key: BATCH_KEY }], limits: { concurrent: 1 } },
            { name: "archive", keys: [{ id: "archive-1", sha256: sha(ARCHIVE_KEY) }] },
          ]),
      { name: "no-scopes", keys: [{ id: "ns-1", sha256: sha(NOSCOPE_KEY) }], scopes: [] },
      { name: "speech-only", keys: [{ id: "speech-1", sha256: sha(TTS_KEY) }], scopes: ["tts"], limits: { requestsPerMinute: 2 } },
      ...extra,
    ],
  });

async function within(ms: number, probe: () => Promise<boolean>): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await probe()) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not within ${ms} ms`);
}

let s: Started;
let secret: MountedSecret;
let keys: ApiKeys;
let watcher: KeysWatcher;
let wav: Buffer;
/** What would go to the license proxy. */
const records: unknown[] = [];
const local = new LocalLicense();
const recordingLicense: LicenseGate = {
  check: () => local.check(),
  record: (usage) => void records.push(usage),
  status: () => local.status(),
  usageBacklog: () => local.usageBacklog(),
  close: () => local.close(),
};
const env = () => ({ API_KEYS_FILE: secret.path("keys") });

beforeAll(async () => {
  secret = new MountedSecret({ keys: teamsDoc() });
  keys = new ApiKeys(loadTeams(env()));
  watcher = watchKeysFile(keys, env(), silentLogger);
  s = await startServer({ keys, license: recordingLicense });
  // Test audio through the server itself, with a key that has the tts scope.
  const res = await fetch(`${s.base}/v1/audio/speech`, {
    method: "POST",
    headers: { authorization: `Bearer ${VOICEBOT_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "tts-1", input: SENTENCE, voice: "slt", response_format: "wav" }),
  });
  wav = Buffer.from(await res.arrayBuffer());
});

afterAll(async () => {
  watcher?.stop();
  await s?.stop();
  secret?.remove();
});

const openai = (key: string) => new OpenAI({ apiKey: key, baseURL: `${s.base}/v1`, maxRetries: 0 });
const deepgram = (key: string) => new DeepgramClient({ apiKey: key, baseUrl: s.base });

const upgradeStatus = (key: string, path = "/v1/listen?encoding=linear16&sample_rate=16000") => upgrade(s.address.port, path, { authorization: `Token ${key}` });

describe("the teams document", () => {
  it("names the field and what is wrong, and never quotes the file", () => {
    const bad = (...teams: unknown[]) => () => parseKeysFile(JSON.stringify({ teams }), "teams.json");
    expect(bad({ name: "Contact Center", keys: [{ id: "a", key: "k".repeat(20) }] })).toThrow(/teams\[0\]\.name: expected lowercase letters/);
    expect(bad({ name: "cc", keys: [{ id: "a", sha256: "abc" }] })).toThrow(/teams\[0\]\.keys\[0\]\.sha256: expected the key's SHA-256 digest/);
    expect(bad({ name: "cc", keys: [{ id: "a", key: "short" }] })).toThrow(/teams\[0\]\.keys\[0\]\.key: expected a key of at least 16/);
    expect(bad({ name: "cc", keys: [{ id: "a" }] })).toThrow(/teams\[0\]\.keys\[0\]: expected exactly one of "sha256" or "key"/);
    expect(bad({ name: "cc", keys: [{ id: "a", key: "k".repeat(20) }], scopes: ["stt", "fly"] })).toThrow(/teams\[0\]\.scopes\[1\]/);
    expect(bad({ name: "cc", keys: [{ id: "a", key: "k".repeat(20) }], limits: { concurrent: 0 } })).toThrow(/teams\[0\]\.limits\.concurrent/);
    const two = { name: "cc", keys: [{ id: "a", key: "k".repeat(20) }] };
    expect(bad(two, two)).toThrow(/teams\[1\]\.name: team "cc" appears twice/);
    const secretish = '{"teams": [{"name": "cc", "keys": [{"id": "a", "key": "vsh_do_not_print_me_0123" ';
    expect(() => parseKeysFile(secretish, "teams.json")).toThrow(/^teams\.json: not valid JSON/);
    try {
      parseKeysFile(secretish, "teams.json");
    } catch (err) {
      expect((err as Error).message).not.toContain("vsh_do_not_print_me");
    }
  });

  it("keeps one key per line as anonymous keys with every scope and no limits", () => {
    const teams = parseKeysFile("key-one-0123456789abcdef\n\n key-two-0123456789abcdef \n", "keys.txt");
    expect(teams).toEqual([{ name: "anonymous", scopes: ["stt", "stt-live", "tts"], limits: {}, keys: [expect.objectContaining({ id: "line-1" }), expect.objectContaining({ id: "line-3" })] }]);
    const k = new ApiKeys(teams);
    expect(k.verify("key-two-0123456789abcdef")?.team.name).toBe("anonymous");
    expect(k.verify("key-two-0123456789abcdeF")).toBeUndefined();
    expect(() => parseKeysFile("key-one-0123456789abcdef\nshort\n", "keys.txt")).toThrow(/keys\.txt line 2: expected a key of at least 16/);
  });

  it("refuses one key in two teams", () => {
    const doc = { teams: [{ name: "a", keys: [{ id: "a1", key: BATCH_KEY }] }, { name: "b", keys: [{ id: "b1", sha256: sha(BATCH_KEY) }] }] };
    expect(() => new ApiKeys(parseKeysFile(JSON.stringify(doc), "x"))).toThrow(/key "b1" of team "b" is the same key as "a1"/);
  });

  it("limits requests per minute over a sliding minute", () => {
    const team = new Team("t", { name: "t", scopes: ["stt"], limits: { requestsPerMinute: 2 } });
    team.admit("stt", 0)();
    team.admit("stt", 10_000)();
    expect(() => team.admit("stt", 30_000)).toThrow(expect.objectContaining({ status: 429, code: "team_rate_limit", headers: { "retry-after": "30" } }));
    expect(() => team.admit("stt", 59_999)).toThrow(expect.objectContaining({ status: 429 }));
    expect(() => team.admit("stt", 60_001)).not.toThrow();
  });
});

describe("scopes", () => {
  it("refuses a key without the route's scope with 403 on both API families", async () => {
    const oa = openai(NOSCOPE_KEY);
    const stt = oa.audio.transcriptions.create({ file: await toFile(wav, "a.wav"), model: "whisper-1" });
    await expect(stt).rejects.toBeInstanceOf(OpenAI.PermissionDeniedError);
    await expect(stt).rejects.toMatchObject({ status: 403, code: "missing_scope_stt" });
    await expect(oa.audio.speech.create({ model: "tts-1", voice: "alloy", input: "hi" })).rejects.toMatchObject({ status: 403, code: "missing_scope_tts" });
    // The key is valid: routes that need no scope still answer.
    expect((await oa.models.list()).data.length).toBeGreaterThan(0);

    const dg = deepgram(NOSCOPE_KEY);
    const listen = dg.listen.v1.media.transcribeFile(wav, { model: "nova-3" });
    await expect(listen).rejects.toBeInstanceOf(DeepgramError);
    await expect(listen).rejects.toMatchObject({ statusCode: 403, body: expect.objectContaining({ err_code: "MISSING_SCOPE_STT" }) });
    await expect(dg.speak.v1.audio.generate({ text: "hi", model: "aura-2-thalia-en" })).rejects.toMatchObject({ statusCode: 403 });

    const live = await upgradeStatus(NOSCOPE_KEY);
    expect(live.status).toBe(403);
    expect(JSON.parse(live.body)).toMatchObject({ err_code: "MISSING_SCOPE_STT_LIVE" });
    // The streaming speech and realtime sockets check the same scopes, in their own family's shape.
    const speakSocket = await upgradeStatus(NOSCOPE_KEY, "/v1/speak");
    expect(speakSocket.status).toBe(403);
    expect(JSON.parse(speakSocket.body)).toMatchObject({ err_code: "MISSING_SCOPE_TTS" });
    const realtime = await upgradeStatus(NOSCOPE_KEY, "/v1/realtime?intent=transcription");
    expect(realtime.status).toBe(403);
    expect(JSON.parse(realtime.body)).toMatchObject({ error: { code: "missing_scope_stt_live" } });
  });

  it("serves the scopes a team has and refuses the others", async () => {
    const res = await openai(TTS_KEY).audio.speech.create({ model: "tts-1", voice: "alloy", input: "speech only", response_format: "wav" });
    expect(parseWav(Buffer.from(await res.arrayBuffer())).samples.length).toBeGreaterThan(1000);
    await expect(openai(TTS_KEY).audio.transcriptions.create({ file: await toFile(wav, "a.wav"), model: "whisper-1" })).rejects.toMatchObject({ status: 403 });
  });
});

describe("limits", () => {
  it("answers 429 at once, before the body is read, to a team at its concurrency limit while another team is served", async () => {
    // Team batch (concurrent: 1) holds its one slot with an upload whose body has not arrived yet.
    const held = request(`${s.base}/v1/listen`, { method: "POST", headers: { authorization: `Token ${BATCH_KEY}`, "content-type": "audio/wav", "content-length": String(wav.length) } });
    let heldSettled = false;
    const heldAnswer = new Promise<number>((resolve) => held.on("response", (r) => (r.resume(), (heldSettled = true), resolve(r.statusCode ?? 0))));
    held.flushHeaders();
    await within(3000, async () => keys.teamList().find((t) => t.name === "batch")!.inFlight === 1);

    // A second batch request: 429 with Retry-After, although it sends no body at all.
    const refused = await new Promise<{ status: number; retryAfter?: string; body: string }>((resolve) => {
      const r = request(`${s.base}/v1/listen`, { method: "POST", headers: { authorization: `Token ${BATCH_KEY}`, "content-type": "audio/wav", "content-length": "1000000" } });
      r.on("response", (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers["retry-after"] as string | undefined, body }));
      });
      r.on("error", () => undefined);
      r.flushHeaders();
    });
    expect(refused.status).toBe(429);
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(refused.body)).toMatchObject({ err_code: "TEAM_CONCURRENCY_LIMIT" });
    // At once: while the held upload still waits for its body (an ordering, not a clock).
    expect(heldSettled).toBe(false);
    // Live sessions count against the same limit.
    expect((await upgradeStatus(BATCH_KEY)).status).toBe(429);

    // Meanwhile the voicebot team is served normally, through the stock client.
    const t = await openai(VOICEBOT_KEY).audio.transcriptions.create({ file: await toFile(wav, "a.wav"), model: "whisper-1" });
    expect(t.text.length).toBeGreaterThan(10);

    held.end(wav);
    expect(await heldAnswer).toBe(200);
    await within(3000, async () => keys.teamList().find((t) => t.name === "batch")!.inFlight === 0);
  });

  it("gives a team's slot back when a WebSocket handshake it was admitted for is refused by the WebSocket layer", async () => {
    const batch = () => keys.teamList().find((t) => t.name === "batch")!;
    for (let i = 0; i < 3; i++) {
      // An upgrade without Sec-WebSocket-Key: it passes the team gate, then ws refuses the handshake itself.
      const status = await new Promise<number>((resolve) => {
        const r = request(`${s.base}/v1/listen?encoding=linear16&sample_rate=16000`, {
          headers: { authorization: `Token ${BATCH_KEY}`, connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13" },
        });
        r.on("response", (res) => (res.resume(), resolve(res.statusCode ?? 0)));
        r.on("upgrade", () => resolve(101));
        r.on("error", () => resolve(0));
        r.end();
      });
      expect(status).toBe(400);
    }
    expect(batch().inFlight).toBe(0);
  });

  it("answers 429 with Retry-After over requestsPerMinute", async () => {
    const speak = () =>
      fetch(`${s.base}/v1/speak`, { method: "POST", headers: { authorization: `Token ${TTS_KEY}`, "content-type": "application/json" }, body: JSON.stringify({ text: "hello" }) });
    // The speech-only team (2 a minute) already spent one in the scope test above.
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 3; i++) {
      const r = await speak();
      statuses.push(r.status);
      if (r.status === 429) retryAfter = r.headers.get("retry-after");
      await r.arrayBuffer();
    }
    expect(statuses).toEqual([200, 429, 429]);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(60);
  });
});

describe("rotation through a symlink swap", () => {
  it("adds and revokes keys within 5 s without a restart, and closes a revoked key's live session", async () => {
    expect((await upgradeStatus(NEW_KEY)).status).toBe(401);

    // A live session on the batch key, through the Deepgram SDK.
    const socket = await deepgram(BATCH_KEY).listen.v1.connect({ model: "nova-3", encoding: "linear16", sample_rate: 16000, reconnectAttempts: 0, connectionTimeoutInSeconds: 30 });
    const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on("close", (e) => resolve({ code: e.code, reason: e.reason })));
    const messages: { type: string; err_code?: string }[] = [];
    socket.on("message", (m) => messages.push(m as (typeof messages)[number]));
    socket.connect();
    await socket.waitForOpen();
    const pcm = parseWav(wav).samples;
    socket.sendMedia(Buffer.from(pcm.buffer, pcm.byteOffset, 32000));

    // An HTTP request of the archive team, admitted before its key goes away (its body still to come): it finishes.
    const held = request(`${s.base}/v1/listen`, { method: "POST", headers: { authorization: `Token ${ARCHIVE_KEY}`, "content-type": "audio/wav", "content-length": String(wav.length) } });
    const heldAnswer = new Promise<number>((resolve) => held.on("response", (r) => (r.resume(), resolve(r.statusCode ?? 0))));
    held.flushHeaders();
    await within(3000, async () => keys.teamList().find((t) => t.name === "archive")?.inFlight === 1);

    // The new document: batch's key removed, a new team added.
    const swappedAt = Date.now();
    secret.write({ keys: teamsDoc([{ name: "newcomer", keys: [{ id: "new-1", sha256: sha(NEW_KEY) }] }], { revoked: true }) });
    await within(5000, async () => (await fetch(`${s.base}/v1/models`, { headers: { authorization: `Bearer ${NEW_KEY}` } })).status === 200);
    await within(5000, async () => (await fetch(`${s.base}/v1/models`, { headers: { authorization: `Bearer ${BATCH_KEY}` } })).status === 401);
    expect(Date.now() - swappedAt).toBeLessThan(5000);

    const close = await closed;
    expect(close.code).toBe(1008);
    expect(close.reason).toBe("KEY_REVOKED");
    expect(messages.some((m) => m.type === "Error" && m.err_code === "KEY_REVOKED")).toBe(true);
    expect((await upgradeStatus(BATCH_KEY)).status).toBe(401);
    expect((await fetch(`${s.base}/v1/models`, { headers: { authorization: `Bearer ${ARCHIVE_KEY}` } })).status).toBe(401);
    held.end(wav);
    expect(await heldAnswer).toBe(200);

    // A bad document: the last good one stays in force, and the failure is counted.
    secret.write({ keys: '{"teams": [{"name": "Bad Name", "keys": []}]}' });
    await within(5000, async () => keys.reloadFailures === 1);
    expect((await fetch(`${s.base}/v1/models`, { headers: { authorization: `Bearer ${NEW_KEY}` } })).status).toBe(200);
    const metrics = await (await fetch(`${s.base}/metrics`)).text();
    expect(metrics).toMatch(/^inference_api_keys_reload_failures_total 1$/m);

    // Back to a good document (with the batch team again for the metrics test).
    secret.write({ keys: teamsDoc([{ name: "newcomer", keys: [{ id: "new-1", sha256: sha(NEW_KEY) }] }]) });
    await within(5000, async () => (await fetch(`${s.base}/v1/models`, { headers: { authorization: `Bearer ${BATCH_KEY}` } })).status === 200);
  });
});

describe("the keys file watcher", () => {
  it("sees a file rewritten in place behind a symlink, and applies it only once it has settled", async () => {
    const root = mkdtempSync(join(tmpdir(), "teams-poll-"));
    try {
      mkdirSync(join(root, "mount"));
      mkdirSync(join(root, "elsewhere"));
      writeFileSync(join(root, "elsewhere", "keys"), "first-key-0123456789abcdef\n");
      symlinkSync(join(root, "elsewhere", "keys"), join(root, "mount", "keys"));
      const e = { API_KEYS_FILE: join(root, "mount", "keys") };
      const k = new ApiKeys(loadTeams(e));
      const w = watchKeysFile(k, e, silentLogger, 60_000);
      try {
        // Half-written (empty for now): seen once, not yet applied.
        writeFileSync(join(root, "elsewhere", "keys"), "");
        w.check();
        expect(k.verify("first-key-0123456789abcdef")).toBeDefined();
        writeFileSync(join(root, "elsewhere", "keys"), "second-key-0123456789abcdef\n");
        w.check();
        expect(k.verify("second-key-0123456789abcdef")).toBeUndefined();
        // Two looks that agree: applied.
        w.check();
        await within(5000, async () => k.verify("second-key-0123456789abcdef") !== undefined);
        expect(k.verify("first-key-0123456789abcdef")).toBeUndefined();
      } finally {
        w.stop();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("metrics", () => {
  it("carry team labels and no key material", async () => {
    await synthesizeWavAs(VOICEBOT_KEY, "counted for the voicebot team");
    const text = await (await fetch(`${s.base}/metrics`)).text();
    expect(text).toMatch(/inference_team_requests_total\{team="voicebot",route="\/v1\/audio\/speech",status="200"\} [1-9]/);
    expect(text).toMatch(/inference_team_characters_total\{team="voicebot"\} [1-9]/);
    expect(text).toMatch(/inference_team_audio_seconds_total\{team="voicebot",feature="stt"\} [1-9]/);
    expect(text).toMatch(/inference_team_audio_seconds_total\{team="batch",feature="stt-live"\} [0-9.]+/);
    expect(text).toMatch(/inference_team_live_session_seconds_total\{team="batch"\} [0-9.]+/);
    expect(text).toMatch(/inference_team_rejected_requests_total\{team="no-scopes",reason="missing_scope_stt"\} [1-9]/);
    expect(text).toMatch(/inference_team_rejected_requests_total\{team="batch",reason="team_concurrency_limit"\} [1-9]/);
    expect(text).toMatch(/inference_team_inflight\{team="voicebot"\} 0/);
    for (const key of [VOICEBOT_KEY, BATCH_KEY, NOSCOPE_KEY, TTS_KEY, NEW_KEY, ARCHIVE_KEY]) {
      expect(text).not.toContain(key);
      expect(text).not.toContain(sha(key));
      expect(text).not.toContain(sha(key).slice(0, 16));
    }
    // The usage records for the license proxy carry no team or caller identity.
    expect(records.length).toBeGreaterThan(5);
    const sent = JSON.stringify(records);
    for (const team of ["voicebot", "batch", "no-scopes", "speech-only", "newcomer"]) expect(sent).not.toContain(team);
    for (const id of ["vb-1", "batch-1", "ns-1", "speech-1", "new-1", "archive-1"]) expect(text).not.toContain(`"${id}"`);
  });
});

async function synthesizeWavAs(key: string, text: string): Promise<void> {
  const res = await fetch(`${s.base}/v1/audio/speech`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "tts-1", input: text, voice: "slt", response_format: "wav" }),
  });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
}

