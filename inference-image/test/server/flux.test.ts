/**
 * GET /v2/listen (Deepgram Flux) against the real engines: the stock @deepgram/sdk v2 listen client, and messages
 * shaped as LiveKit's deepgram.STTv2 sends them (livekit-plugins-deepgram stt_v2.py: query model, sample_rate,
 * encoding=linear16, mip_opt_out, eot_*, keyterm, tag; `Authorization: Token`; 50 ms frames; CloseStream at the end).
 */
import { DeepgramClient } from "@deepgram/sdk";
import { WebSocket } from "ws";
import { wordErrorRate } from "../engines/helpers";
import { KEY, parseWav, startServer, type Started, synthesizeWav, upgradeStatus } from "./helpers";

jest.setTimeout(120_000);

const FIRST = "i would like to order a large pizza";
const SECOND = "the quick brown fox jumps over the lazy dog";

interface FluxMessage {
  type: string;
  sequence_id: number;
  event?: string;
  turn_index?: number;
  transcript?: string;
  words?: { word: string; confidence: number }[];
  end_of_turn_confidence?: number;
  audio_window_start?: number;
  audio_window_end?: number;
  trigger?: string;
  thresholds?: Record<string, number>;
}

let s: Started;
let rate: number;
/** Two finished turns, each followed by silence: FIRST, 2.5 s, SECOND, 1.5 s (PCM16). */
let dialogue: Int16Array;
let firstOnly: Int16Array;

beforeAll(async () => {
  s = await startServer();
  const a = parseWav(await synthesizeWav(s.base, FIRST));
  const b = parseWav(await synthesizeWav(s.base, SECOND));
  rate = a.sampleRate;
  dialogue = new Int16Array(a.samples.length + Math.round(2.5 * rate) + b.samples.length + Math.round(1.5 * rate));
  dialogue.set(a.samples);
  dialogue.set(b.samples, a.samples.length + Math.round(2.5 * rate));
  firstOnly = a.samples;
});

afterAll(async () => {
  await s?.stop();
});

const pcmBytes = (pcm: Int16Array) => Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);

/** 50 ms frames, faster than real time (the server's clock is the audio's). */
async function sendFrames(pcm: Int16Array, send: (frame: Buffer) => void): Promise<void> {
  const step = Math.round(rate / 20);
  for (let i = 0; i < pcm.length; i += step) {
    send(pcmBytes(pcm.subarray(i, i + step)));
    await new Promise((r) => setImmediate(r));
  }
}

/**
 * Flux's rules (developers.deepgram.com/docs/flux/state): each turn opens with StartOfTurn and closes with EndOfTurn;
 * TurnResumed only after an EagerEndOfTurn; an EndOfTurn repeats the preceding EagerEndOfTurn's transcript unless a
 * TurnResumed came between; turn_index counts up from 0. Returns each ended turn's transcript.
 */
function checkTurns(messages: FluxMessage[]): string[] {
  const turns = messages.filter((m) => m.type === "TurnInfo");
  const ended: string[] = [];
  let open = false;
  let eager: string | undefined;
  for (const m of turns) {
    expect(m.turn_index).toBe(ended.length);
    expect(m.end_of_turn_confidence).toBeGreaterThanOrEqual(0);
    expect(m.end_of_turn_confidence).toBeLessThanOrEqual(1);
    expect(m.audio_window_end!).toBeGreaterThanOrEqual(m.audio_window_start!);
    switch (m.event) {
      case "StartOfTurn":
        expect(open).toBe(false);
        open = true;
        break;
      case "Update":
        expect(open).toBe(true);
        break;
      case "EagerEndOfTurn":
        expect(open).toBe(true);
        expect(m.transcript).not.toBe("");
        eager = m.transcript;
        break;
      case "TurnResumed":
        expect(eager).toBeDefined();
        eager = undefined;
        break;
      case "EndOfTurn":
        expect(open).toBe(true);
        expect(["model", "timeout", "manual"]).toContain(m.trigger);
        if (eager !== undefined) expect(m.transcript).toBe(eager);
        ended.push(m.transcript ?? "");
        open = false;
        eager = undefined;
        break;
      default:
        throw new Error(`unexpected TurnInfo event ${m.event}`);
    }
  }
  expect(open).toBe(false);
  return ended;
}

/** A raw socket once open: the messages so far, its close code, and the first message (seen or to come) that matches. */
async function opened(ws: WebSocket) {
  const messages: FluxMessage[] = [];
  const waiters: { pred: (m: FluxMessage) => boolean; resolve: (m: FluxMessage) => void }[] = [];
  ws.on("message", (d) => {
    const m = JSON.parse(d.toString()) as FluxMessage;
    messages.push(m);
    for (const w of waiters.filter((w) => w.pred(m))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(m);
    }
  });
  const closed = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => ws.once("open", () => resolve()).once("error", reject));
  const waitFor = (pred: (m: FluxMessage) => boolean) =>
    new Promise<FluxMessage>((resolve) => {
      const seen = messages.find(pred);
      if (seen) resolve(seen);
      else waiters.push({ pred, resolve });
    });
  return { messages, closed, waitFor };
}

/** The turn's words are the sentence's, give or take the built-in engine's errors (the transcript shows on failure). */
function expectClose(sentence: string, transcript: string): void {
  expect({ transcript, wer: wordErrorRate(sentence, transcript) <= 0.25 }).toEqual({ transcript, wer: true });
}

function checkSequence(messages: FluxMessage[]): void {
  expect(messages[0]).toMatchObject({ type: "Connected", sequence_id: 0 });
  expect(messages.map((m) => m.sequence_id)).toEqual(messages.map((_, i) => i));
}

test("the stock @deepgram/sdk v2 listen client gets two turns, in Flux's order, with eager ends", async () => {
  const client = new DeepgramClient({ apiKey: KEY, baseUrl: s.base });
  const socket = await client.listen.v2.connect({
    model: "flux-general-en",
    encoding: "linear16",
    sample_rate: rate,
    eager_eot_threshold: 0.3,
    Authorization: `Token ${KEY}`,
    reconnectAttempts: 0,
  });
  const messages: FluxMessage[] = [];
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  socket.on("message", (m) => messages.push(m as FluxMessage));
  socket.connect();
  await socket.waitForOpen();
  await sendFrames(dialogue, (f) => socket.sendMedia(f));
  socket.sendCloseStream({ type: "CloseStream" });
  await closed;
  checkSequence(messages);
  const ended = checkTurns(messages);
  expect(ended).toHaveLength(2);
  expectClose(FIRST, ended[0]);
  expectClose(SECOND, ended[1]);
  // Updates come every 0.25 s of a turn; each turn is well over a second long.
  expect(messages.filter((m) => m.event === "Update").length).toBeGreaterThanOrEqual(4);
  expect(messages.some((m) => m.event === "EagerEndOfTurn")).toBe(true);
  // The server timed both turns' ends and first Updates, by route and team (from the audio's arrival at the server).
  const metrics = await (await fetch(`${s.base}/metrics`)).text();
  const count = (stage: string) => Number(new RegExp(`^inference_turn_latency_seconds_count\\{route="/v2/listen",team="[^"]+",stage="${stage}"\\} (\\d+)$`, "m").exec(metrics)?.[1] ?? 0);
  expect(count("speech_end_to_end_of_turn")).toBeGreaterThanOrEqual(2);
  expect(count("onset_to_first_interim")).toBeGreaterThanOrEqual(2);
});

test("LiveKit's STTv2 messages: Token auth, its query, Configure mid-stream, ForceEndTurn, CloseStream", async () => {
  const q = `model=flux-general-en&sample_rate=${rate}&encoding=linear16&mip_opt_out=false&eot_threshold=0.7&eot_timeout_ms=3000&keyterm=Digium&tag=a&tag=b`;
  const ws = new WebSocket(`ws://127.0.0.1:${s.address.port}/v2/listen?${q}`, { headers: { Authorization: `Token ${KEY}` } });
  const { messages, closed, waitFor } = await opened(ws);
  const next = (type: string) => waitFor((m) => m.type === type);
  ws.send(JSON.stringify({ type: "Configure", thresholds: { eot_threshold: 0.8, eager_eot_threshold: 0.5 }, keyterms: ["Digium", "Asterisk"] }));
  expect(await next("ConfigureSuccess")).toMatchObject({ thresholds: { eot_threshold: 0.8, eager_eot_threshold: 0.5, eot_timeout_ms: 3000 }, keyterms: ["Digium", "Asterisk"] });
  // An eager threshold above the end threshold is refused, and the stream goes on.
  ws.send(JSON.stringify({ type: "Configure", thresholds: { eager_eot_threshold: 0.9 } }));
  expect(await next("ConfigureFailure")).toMatchObject({ type: "ConfigureFailure" });
  // The first sentence with no pause after it: only ForceEndTurn ends that turn.
  await sendFrames(firstOnly, (f) => ws.send(f));
  ws.send(JSON.stringify({ type: "ForceEndTurn" }));
  const forced = await waitFor((m) => m.event === "EndOfTurn");
  expect(forced.trigger).toBe("manual");
  expectClose(FIRST, forced.transcript ?? "");
  ws.send(JSON.stringify({ type: "CloseStream" }));
  expect(await closed).toBe(1000);
  checkSequence(messages);
  expect(checkTurns(messages)).toHaveLength(1);
});

test("refusals come before the upgrade, as plain HTTP answers", async () => {
  const port = s.address.port;
  const withKey = { authorization: `Token ${KEY}` };
  expect((await upgradeStatus(port, "/v2/listen?model=flux-general-en&encoding=linear16&sample_rate=16000", {})).status).toBe(401);
  const low = await upgradeStatus(port, "/v2/listen?encoding=linear16&sample_rate=16000&eot_threshold=0.3", withKey);
  expect(low.status).toBe(400);
  expect(low.body).toMatch(/eot_threshold/);
  const eager = await upgradeStatus(port, "/v2/listen?encoding=linear16&sample_rate=16000&eot_threshold=0.6&eager_eot_threshold=0.8", withKey);
  expect(eager.status).toBe(400);
  expect(eager.body).toMatch(/eager_eot_threshold \(0\.8\) must not exceed eot_threshold \(0\.6\)/);
  expect((await upgradeStatus(port, "/v2/listen?encoding=linear16", withKey)).status).toBe(400);
  expect((await upgradeStatus(port, "/v2/listen?model=whisper-large-v9&encoding=linear16&sample_rate=16000", withKey)).status).toBe(400);
});

test("an unknown control message closes the stream with an Error naming what is expected", async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${s.address.port}/v2/listen?encoding=linear16&sample_rate=16000`, { headers: { Authorization: `Token ${KEY}` } });
  const { messages, closed } = await opened(ws);
  ws.send(JSON.stringify({ type: "Finalize" }));
  expect(await closed).toBe(1008);
  expect(messages[messages.length - 1]).toMatchObject({ type: "Error", code: "INVALID_MESSAGE", description: expect.stringMatching(/Configure, ForceEndTurn, KeepAlive or CloseStream/) });
});
