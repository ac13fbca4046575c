/** The official `openai` and `@deepgram/sdk` clients, unchanged, pointed at the server. */
import { DeepgramClient } from "@deepgram/sdk";
import OpenAI, { toFile } from "openai";
import { KEY, parseWav, SENTENCE, startServer, type Started, synthesizeWav } from "./helpers";
import { wordErrorRate } from "../engines/helpers";

jest.setTimeout(120_000);

let s: Started;
let wav: Buffer;

beforeAll(async () => {
  s = await startServer();
  wav = await synthesizeWav(s.base, SENTENCE);
});

afterAll(async () => {
  await s?.stop();
});

describe("openai SDK", () => {
  const client = () => new OpenAI({ apiKey: KEY, baseURL: `${s.base}/v1`, maxRetries: 0 });

  it("transcribes a file", async () => {
    const t = await client().audio.transcriptions.create({ file: await toFile(wav, "speech.wav"), model: "whisper-1" });
    expect(wordErrorRate(SENTENCE, t.text)).toBeLessThanOrEqual(0.25);
  });

  it("gets verbose_json with word timestamps", async () => {
    const t = await client().audio.transcriptions.create({
      file: await toFile(wav, "speech.wav"),
      model: "whisper-1",
      response_format: "verbose_json",
      timestamp_granularities: ["word"],
    });
    expect(t.words?.length).toBeGreaterThan(8);
    expect(t.duration).toBeGreaterThan(2);
  });

  it("synthesizes speech", async () => {
    const res = await client().audio.speech.create({ model: "tts-1", voice: "alloy", input: "hello from the openai client", response_format: "wav" });
    const audio = parseWav(Buffer.from(await res.arrayBuffer()));
    expect(audio.samples.length / audio.sampleRate).toBeGreaterThan(0.8);
  });

  it("surfaces server errors as the SDK's typed errors", async () => {
    const bad = new OpenAI({ apiKey: "wrong-key-wrong-key", baseURL: `${s.base}/v1`, maxRetries: 0 });
    await expect(bad.audio.transcriptions.create({ file: await toFile(wav, "a.wav"), model: "whisper-1" })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(client().audio.speech.create({ model: "no-such-model", voice: "alloy", input: "hi" })).rejects.toMatchObject({ status: 400 });
  });
});

describe("@deepgram/sdk", () => {
  const client = () => new DeepgramClient({ apiKey: KEY, baseUrl: s.base });

  it("transcribes a file", async () => {
    const res = await client().listen.v1.media.transcribeFile(wav, { model: "nova-3", punctuate: true });
    if (!("results" in res)) throw new Error("expected a synchronous result");
    expect(wordErrorRate(SENTENCE, res.results.channels[0].alternatives?.[0].transcript ?? "")).toBeLessThanOrEqual(0.25);
    expect(res.metadata.request_id).toBeTruthy();
  });

  it("synthesizes speech", async () => {
    const res = await client().speak.v1.audio.generate({ text: "hello from the deepgram client", model: "aura-2-thalia-en", encoding: "linear16", container: "wav" });
    const audio = parseWav(Buffer.from(await res.arrayBuffer()));
    expect(audio.sampleRate).toBe(24000);
    expect(audio.samples.length / audio.sampleRate).toBeGreaterThan(0.8);
  });

  it("streams live audio and gets interim and final Results, then Metadata", async () => {
    const pcm = parseWav(wav).samples;
    // Pad with a second of silence so the VAD sees the utterance end.
    const padded = new Int16Array(pcm.length + 16000);
    padded.set(pcm);
    const socket = await client().listen.v1.connect({
      model: "nova-3",
      encoding: "linear16",
      sample_rate: 16000,
      interim_results: "true",
      utterance_end_ms: "1000",
      // A conversational setting: Deepgram's default (10 ms) splits at every short pause, and each piece is decoded without the words around it.
      endpointing: "500",
      reconnectAttempts: 0, connectionTimeoutInSeconds: 30,
    });
    const messages: { type: string; is_final?: boolean; speech_final?: boolean; channel?: { alternatives: { transcript: string }[] } }[] = [];
    const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    socket.on("message", (m) => messages.push(m as (typeof messages)[number]));
    socket.connect();
    await socket.waitForOpen();
    // 100 ms frames, sent faster than real time.
    for (let i = 0; i < padded.length; i += 1600) {
      const frame = padded.subarray(i, i + 1600);
      socket.sendMedia(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
      await new Promise((r) => setTimeout(r, 10));
    }
    socket.sendKeepAlive({ type: "KeepAlive" });
    socket.sendCloseStream({ type: "CloseStream" });
    await closed;
    const results = messages.filter((m) => m.type === "Results");
    const finals = results.filter((m) => m.is_final).map((m) => m.channel?.alternatives[0].transcript ?? "");
    expect(wordErrorRate(SENTENCE, finals.join(" "))).toBeLessThanOrEqual(0.25);
    expect(results.some((m) => !m.is_final)).toBe(true);
    expect(messages[messages.length - 1].type).toBe("Metadata");
  });
});
