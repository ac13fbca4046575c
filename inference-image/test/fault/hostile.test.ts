/**
 * Hostile input against the built server (WORKERS=1, local mode): malformed request-targets, resets
 * after an upgrade, truncated multipart (with Content-Length and chunked), oversized headers and a
 * seeded fuzz of mutated requests. Each gets a 4xx or a closed socket; the process never stops.
 */
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { encodeWav } from "../../src/audio/wav";
import { metricValue, waitFor, writeThenDisconnect } from "../license/helpers";
import { serverHarness } from "./harness";
import { KEY, rawExchange, rssBytes, statusOf } from "./helpers";

jest.setTimeout(120_000);

// A small body budget, so the admission test needs only a few uploads: 3 bodies of 12 MiB at once.
const h = serverHarness({ MAX_BODY_BYTES: String(16 << 20), MAX_BUFFERED_BODY_BYTES: String(36 << 20) });

afterEach(() => {
  // Every test leaves the process running; a crash names the test that caused it.
  expect(h.server.alive).toBe(true);
});

const upgrade = (target: string, key?: string) =>
  [
    `GET ${target} HTTP/1.1`,
    "Host: 127.0.0.1",
    "Connection: Upgrade",
    "Upgrade: websocket",
    "Sec-WebSocket-Version: 13",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    ...(key ? [`Authorization: Token ${key}`] : []),
    "",
    "",
  ].join("\r\n");

/** A short WAV (0.5 s of a 440 Hz tone at 16 kHz), enough for the multipart parser to reach the file part. */
const wav = () => encodeWav(Int16Array.from({ length: 8000 }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 16000))), 16000);

const BOUNDARY = "----faultboundary";
function multipart(fields: [string, string][], file: Buffer): Buffer {
  const parts = fields.map(([k, v]) => `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join("");
  return Buffer.concat([
    Buffer.from(`${parts}--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n`),
    file,
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
}
const postHead = (length: number | "chunked") =>
  [
    "POST /v1/audio/transcriptions HTTP/1.1",
    "Host: 127.0.0.1",
    `Authorization: Bearer ${KEY}`,
    `Content-Type: multipart/form-data; boundary=${BOUNDARY}`,
    length === "chunked" ? "Transfer-Encoding: chunked" : `Content-Length: ${length}`,
    "Connection: close",
    "",
    "",
  ].join("\r\n");

const metric = (name: string) => metricValue(h.server.base, name);
const inflight = () => metric("inference_inflight_requests");

it("answers malformed request-targets with 400, on plain requests and on upgrades", async () => {
  for (const target of ["//", "http://[", "//[::1", "http://a b"]) {
    const answer = await rawExchange(h.server.port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect([400, 404]).toContain(statusOf(answer));
    expect(answer).toMatch(/"error"/);
  }
  for (const target of ["//", "http://["]) {
    const answer = await rawExchange(h.server.port, upgrade(target, KEY));
    expect(statusOf(answer)).toBe(400);
    expect(answer).toContain("INVALID_REQUEST_TARGET");
  }
  const plain = await fetch(`${h.server.base}//`);
  expect(plain.status).toBe(400);
});

it("survives a TCP reset right after an upgrade: unauthenticated, wrong path, and authenticated", async () => {
  for (let i = 0; i < 10; i++) {
    await writeThenDisconnect(h.server.port, upgrade("/v1/listen"), i % 3);
    await writeThenDisconnect(h.server.port, upgrade("/nowhere"), i % 3);
    await writeThenDisconnect(h.server.port, upgrade("/v1/listen?encoding=linear16&sample_rate=16000", KEY), i * 5);
    await writeThenDisconnect(h.server.port, upgrade("//", KEY), 0);
    // An accepted session whose client then sends bytes that are not WebSocket frames, then resets.
    await writeThenDisconnect(h.server.port, Buffer.concat([Buffer.from(upgrade("/v1/listen?encoding=linear16&sample_rate=16000", KEY)), randomBytes(64)]), 30);
  }
  await waitFor("the reset requests and sessions to be let go", async () => (await inflight()) === 0, 15_000, 50);
  expect((await fetch(`${h.server.base}/health/live`)).status).toBe(200);
});

it("answers a multipart body that ends inside the file part with 400, with Content-Length and chunked", async () => {
  const full = multipart([["model", "whisper-1"]], wav());
  const cut = full.subarray(0, full.length - 2000);
  const a = await rawExchange(h.server.port, Buffer.concat([Buffer.from(postHead(cut.length)), cut]));
  expect(statusOf(a)).toBe(400);
  expect(a).toContain("invalid_multipart");
  const chunked = Buffer.concat([Buffer.from(postHead("chunked")), Buffer.from(`${cut.length.toString(16)}\r\n`), cut, Buffer.from("\r\n0\r\n\r\n")]);
  const b = await rawExchange(h.server.port, chunked);
  expect(statusOf(b)).toBe(400);
  expect(b).toContain("invalid_multipart");
  // The same body, complete, is served: the refusals above were for the truncation.
  const ok = await rawExchange(h.server.port, Buffer.concat([Buffer.from(postHead(full.length)), full]), { timeoutMs: 30_000 });
  expect(statusOf(ok)).toBe(200);
});

it("releases an upload aborted mid-body at once: the in-flight gauge returns to 0", async () => {
  const full = multipart([["model", "whisper-1"]], Buffer.alloc(4 * 1024 * 1024, 1));
  // Declared longer than sent, then reset; and chunked without its last chunk, then reset.
  await writeThenDisconnect(h.server.port, Buffer.concat([Buffer.from(postHead(full.length)), full.subarray(0, full.length >> 1)]), 200);
  await writeThenDisconnect(h.server.port, Buffer.concat([Buffer.from(postHead("chunked")), Buffer.from(`${(full.length >> 1).toString(16)}\r\n`), full.subarray(0, full.length >> 1)]), 200);
  await waitFor("the aborted uploads to be released", async () => (await inflight()) === 0, 15_000, 50);
});

it("bounds the bodies being buffered: past the budget uploads get 429 before sending, and a reset gives the room back", async () => {
  const size = 12 << 20;
  const rss = () => rssBytes(h.server.child.pid!);
  const before = rss();
  const sockets: { socket: Socket; answer: string }[] = [];
  for (let i = 0; i < 20; i++) {
    const socket = connect(h.server.port, "127.0.0.1");
    const entry = { socket, answer: "" };
    socket.on("data", (c: Buffer) => (entry.answer += c.toString("latin1")));
    socket.on("error", () => undefined);
    socket.write(postHead(size));
    sockets.push(entry);
  }
  // Refusals are answered before any body byte is read: once 17 have come, the budget was full.
  await waitFor("17 uploads refused with 429", () => sockets.filter((s) => statusOf(s.answer) === 429).length === 17, 15_000, 20);
  const refused = sockets.filter((s) => statusOf(s.answer) === 429);
  const admitted = sockets.filter((s) => s.answer === "");
  expect(refused.length).toBe(17);
  expect(refused[0].answer).toContain("too_many_uploads");
  expect(admitted.length).toBe(3);
  expect(await metric("inference_request_body_bytes_reserved")).toBe(3 * size);
  // The admitted ones send all but their last byte: buffered, not yet complete.
  const body = Buffer.alloc(size - 1, 7);
  await Promise.all(admitted.map((s) => new Promise((r) => s.socket.write(body, r))));
  // Measured once the server holds at least one body's worth (else the bound below would hold for nothing read yet).
  await waitFor("the server to buffer the uploads", () => rss() - before >= size, 15_000, 20);
  expect(rss() - before).toBeLessThan(3 * size + (64 << 20));
  for (const s of sockets) s.socket.resetAndDestroy();
  await waitFor("the reset uploads to be released", async () => (await inflight()) === 0, 15_000, 50);
  expect(await metric("inference_request_body_bytes_reserved")).toBe(0);
  // The room is back: three more uploads of the same size are admitted (no answer while they send).
  const again = Array.from({ length: 3 }, () => {
    const entry = { socket: connect(h.server.port, "127.0.0.1"), answer: "" };
    entry.socket.on("data", (c: Buffer) => (entry.answer += c.toString("latin1")));
    entry.socket.on("error", () => undefined);
    entry.socket.write(postHead(size));
    return entry;
  });
  // Admitted (their bodies reserved), and so not answered while they send.
  await waitFor("the three uploads to be admitted", async () => (await metric("inference_request_body_bytes_reserved")) === 3 * size, 15_000, 20);
  expect(again.map((s) => s.answer)).toEqual(["", "", ""]);
  for (const s of again) s.socket.resetAndDestroy();
});

it("answers GET /v1/listen without an upgrade with 426 and oversized headers with 431", async () => {
  const listen = await fetch(`${h.server.base}/v1/listen`, { headers: { authorization: `Token ${KEY}` } });
  expect(listen.status).toBe(426);
  expect(listen.headers.get("upgrade")).toBe("websocket");
  const big = await rawExchange(h.server.port, `GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(32 * 1024)}\r\n\r\n`);
  expect(statusOf(big)).toBe(431);
});

it("stays up under a seeded fuzz of mutated and garbage requests", async () => {
  const seeds = [
    `GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n`,
    upgrade("/v1/listen", KEY),
    postHead(100) + "x".repeat(100),
    postHead("chunked") + "zz\r\nhello\r\n0\r\n\r\n",
    `POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{"input":[1]`,
  ];
  // A deterministic generator, so a failure replays.
  let state = 0x2545f491;
  const rand = (n: number) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % n;
  };
  const work: Promise<unknown>[] = [];
  for (let i = 0; i < 300; i++) {
    const bytes = Buffer.from(seeds[rand(seeds.length)], "latin1");
    const kind = rand(4);
    if (kind === 0) for (let k = 0; k < 1 + rand(8); k++) bytes[rand(bytes.length)] = rand(256);
    const payload = kind === 1 ? randomBytes(1 + rand(512)) : kind === 2 ? bytes.subarray(0, rand(bytes.length)) : bytes;
    work.push(rand(2) === 0 ? rawExchange(h.server.port, payload, { timeoutMs: 300, end: true }) : writeThenDisconnect(h.server.port, payload, rand(20)));
    if (work.length >= 32) await Promise.all(work.splice(0));
  }
  await Promise.all(work);
  expect((await fetch(`${h.server.base}/health/live`)).status).toBe(200);
});
