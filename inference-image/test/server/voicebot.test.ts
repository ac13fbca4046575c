/**
 * A voicebot's real-time paths through the stock clients: @deepgram/sdk v5 live transcription with
 * voicebot settings and the speak WebSocket, and the openai SDK's Realtime transcription client.
 * Timing assertions carry the margins only; the tight figures are the live benchmark's.
 */
import { DeepgramClient } from "@deepgram/sdk";
import { KEY, parseWav, startServer, type Started, synthesizeWav } from "./helpers";
import { wordErrorRate } from "../engines/helpers";

jest.setTimeout(120_000);

const FIRST = "please call me back tomorrow morning";
const SECOND = "the weather today is sunny and warm";
const RATE = 16000;
const FRAME = 1600; // 100 ms

let s: Started;
/** [0.3 s silence][FIRST][1.5 s silence][SECOND][1.5 s silence] at 16 kHz, and where each speech part ends (s). */
let audio: Int16Array;
let firstEnd: number;

/** Last sample louder than the noise floor: where the speech really ends. */
function speechEnd(pcm: Int16Array): number {
  let i = pcm.length - 1;
  while (i > 0 && Math.abs(pcm[i]) < 300) i--;
  return i / RATE;
}

beforeAll(async () => {
  s = await startServer();
  const a = parseWav(await synthesizeWav(s.base, FIRST)).samples;
  const b = parseWav(await synthesizeWav(s.base, SECOND)).samples;
  const gap = (sec: number) => new Int16Array(Math.round(sec * RATE));
  const parts = [gap(0.3), a, gap(1.5), b, gap(1.5)];
  audio = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    audio.set(p, at);
    at += p.length;
  }
  firstEnd = 0.3 + speechEnd(a);
});

afterAll(async () => {
  await s?.stop();
});

type Msg = {
  type: string;
  is_final?: boolean;
  speech_final?: boolean;
  from_finalize?: boolean;
  timestamp?: number;
  last_word_end?: number;
  channel?: { alternatives: { transcript: string; words: { end: number }[] }[] };
  at: number;
};

const dg = () => new DeepgramClient({ apiKey: KEY, baseUrl: s.base });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const text = (m: Msg) => m.channel?.alternatives[0].transcript ?? "";

async function openLive(options: Record<string, string>) {
  const socket = await dg().listen.v1.connect({ model: "nova-3", encoding: "linear16", sample_rate: RATE, reconnectAttempts: 0, ...options });
  const messages: Msg[] = [];
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  socket.on("message", (m) => messages.push({ ...(m as object), at: performance.now() } as Msg));
  socket.connect();
  await socket.waitForOpen();
  return { socket, messages, closed };
}

describe("Deepgram live with a voicebot's options", () => {
  it("sends SpeechStarted first, speech_final within endpointing + 150 ms, UtteranceEnd no earlier than utterance_end_ms", async () => {
    const { socket, messages, closed } = await openLive({ interim_results: "true", endpointing: "300", utterance_end_ms: "1000", vad_events: "true" });
    // Paced in real time: frame k leaves at t0 + k * 100 ms, so audio time x is on the wire by t0 + x.
    const t0 = performance.now();
    for (let i = 0, k = 0; i < audio.length; i += FRAME, k++) {
      const frame = audio.subarray(i, i + FRAME);
      socket.sendMedia(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
      await sleep(Math.max(0, t0 + (k + 1) * 100 - performance.now()));
    }
    socket.sendCloseStream({ type: "CloseStream" });
    await closed;

    const firstResult = messages.findIndex((m) => m.type === "Results");
    const started = messages.filter((m) => m.type === "SpeechStarted");
    expect(started.length).toBeGreaterThanOrEqual(2);
    expect(messages.indexOf(started[0])).toBeLessThan(firstResult);
    expect(started[0].timestamp).toBeGreaterThan(0.1);
    expect(started[0].timestamp).toBeLessThan(0.9);

    const speechFinals = messages.filter((m) => m.type === "Results" && m.speech_final);
    expect(speechFinals).toHaveLength(2);
    expect(wordErrorRate(FIRST, text(speechFinals[0]))).toBeLessThanOrEqual(0.25);
    expect(wordErrorRate(SECOND, text(speechFinals[1]))).toBeLessThanOrEqual(0.25);
    const lag = speechFinals[0].at - (t0 + firstEnd * 1000);
    expect(lag).toBeLessThanOrEqual(300 + 150);

    const ends = messages.filter((m) => m.type === "UtteranceEnd");
    expect(ends.length).toBeGreaterThanOrEqual(1);
    const lastWord = speechFinals[0].channel!.alternatives[0].words.at(-1)!;
    expect(ends[0].last_word_end).toBeCloseTo(lastWord.end, 2);
    // The audio 1000 ms past the last word left at t0 + last_word_end + 1 s, minus one frame.
    expect(ends[0].at - t0).toBeGreaterThanOrEqual((ends[0].last_word_end! + 1) * 1000 - 100);
    expect(messages.indexOf(ends[0])).toBeGreaterThan(messages.indexOf(speechFinals[0]));
    expect(messages.at(-1)?.type).toBe("Metadata");
  });

  it("with endpointing=false gives finals only on Finalize (from_finalize) and CloseStream", async () => {
    const { socket, messages, closed } = await openLive({ interim_results: "true", endpointing: "false" });
    const send = async (from: number, to: number) => {
      for (let i = from; i < to; i += FRAME) {
        const frame = audio.subarray(i, Math.min(i + FRAME, to));
        socket.sendMedia(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
        await sleep(15);
      }
    };
    const half = Math.round((firstEnd + 0.75) * RATE);
    await send(0, half);
    // Let the engine catch up with what was sent, then ask for the final.
    await sleep(500);
    expect(messages.filter((m) => m.is_final)).toHaveLength(0);
    socket.sendFinalize({ type: "Finalize" });
    await sleep(500);
    await send(half, audio.length);
    await sleep(500);
    socket.sendCloseStream({ type: "CloseStream" });
    await closed;

    const finals = messages.filter((m) => m.type === "Results" && m.is_final);
    expect(finals.length).toBeGreaterThanOrEqual(2);
    expect(finals.every((m) => !m.speech_final)).toBe(true);
    expect(finals[0].from_finalize).toBe(true);
    expect(wordErrorRate(FIRST, text(finals[0]))).toBeLessThanOrEqual(0.25);
    expect(wordErrorRate(SECOND, finals.slice(1).map(text).join(" "))).toBeLessThanOrEqual(0.25);
    expect(messages.some((m) => m.type === "Results" && !m.is_final)).toBe(true);
  });
});
