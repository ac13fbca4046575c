/**
 * Custom vocabulary through the routes, with the stock clients (@deepgram/sdk, openai), on real recordings from the
 * real-speech set that name things the engine's dictionary lacks: Asterisk's "spy-unistim" (the word Unistim) and
 * "demo-thanks" (Asterisk ... PBX). Without the terms the engine misses the word; with them it finds it: Deepgram's
 * keyterm and keywords on uploads and at the open of a live stream, its Configure message mid-stream (from the next
 * utterance), OpenAI's prompt on uploads and in a Realtime session's session.update (from the next utterance).
 * Bad vocabulary is a 400 naming the parameter (a ConfigureFailure on a live stream, which goes on).
 * Budget: each vocabulary decoder costs about a second to make; the clips are 1 and 5 s long.
 */
import net from "node:net";
import { DeepgramClient } from "@deepgram/sdk";
import OpenAI, { toFile } from "openai";
import { OpenAIRealtimeWS } from "openai/realtime/ws";
import { loadRealSpeechSet, type Clip } from "../../eval/real-speech";
import { normalizeWords } from "../../eval/wer";
import { resample } from "../../src/audio/resample";
import { floatToInt16 } from "../../src/audio/pcm";
import { MAX_VOCABULARY_TERMS } from "../../src/params/vocabulary";
import { KEY, startServer, type Started, upgradeStatus } from "./helpers";

jest.setTimeout(180_000);

let s: Started;
let unistim: Clip;
let thanks: Clip;

beforeAll(async () => {
  const set = await loadRealSpeechSet({
    only: ["asterisk/spy-unistim", "asterisk/demo-thanks"],
  });
  [unistim, thanks] = ["asterisk/spy-unistim", "asterisk/demo-thanks"].map((id) => set.clips.find((c) => c.id === id)!);
  // A client waiting for its results sends nothing: on a loaded machine that wait can pass the 10 s idle default.
  s = await startServer({ workers: 1, batchWorkers: 1, config: { LIVE_IDLE_TIMEOUT_MS: 120_000 } });
});

afterAll(() => s?.stop());

const words = (text: string) => normalizeWords(text);
const deepgram = () => new DeepgramClient({ apiKey: KEY, baseUrl: s.base });
const openai = () => new OpenAI({ apiKey: KEY, baseURL: `${s.base}/v1`, maxRetries: 0 });

async function deepgramUpload(options: { keyterm?: string[]; keywords?: string[] }): Promise<string[]> {
  const res = await deepgram().listen.v1.media.transcribeFile(unistim.wideband, { model: "nova-3", ...options });
  if (!("results" in res)) throw new Error("expected a synchronous result");
  return words(res.results.channels[0].alternatives?.[0].transcript ?? "");
}

describe("uploads", () => {
  test("Deepgram keyterm and keywords: the term the engine misses is found, only where it is listed", async () => {
    expect(await deepgramUpload({})).not.toContain("unistim");
    expect(await deepgramUpload({ keyterm: ["Unistim", "DAHDI"] })).toContain("unistim");
    expect(await deepgramUpload({ keywords: ["Unistim:2", "DAHDI"] })).toContain("unistim");
    // Boost 0 is Deepgram's "as if not sent".
    expect(await deepgramUpload({ keywords: ["Unistim:0"] })).not.toContain("unistim");
  });

  test("OpenAI prompt: its capitalised words are the vocabulary", async () => {
    const transcribe = async (prompt?: string) =>
      words(
        (
          await openai().audio.transcriptions.create({
            file: await toFile(unistim.wideband, "spy-unistim.flac"),
            model: "whisper-1",
            ...(prompt ? { prompt } : {}),
          })
        ).text,
      );
    expect(await transcribe()).not.toContain("unistim");
    expect(await transcribe("calls from the Unistim phones")).toContain("unistim");
    // Lowercase words are context the engine has no use for: not terms.
    expect(await transcribe("calls from the unistim phones")).not.toContain("unistim");
  });

  const post = (query: string) =>
    fetch(`${s.base}/v1/listen?${query}`, {
      method: "POST",
      headers: { authorization: `Token ${KEY}`, "content-type": "audio/flac" },
      body: unistim.wideband,
    });
  const tooMany = (name: string, n = MAX_VOCABULARY_TERMS + 1) => Array.from({ length: n }, (_, i) => `${name}=term${i}`).join("&");

  test.each([
    ["too many keyterms", tooMany("keyterm"), /keyterm/],
    ["keyterm and keywords over the limit together", `${tooMany("keyterm", 60)}&${tooMany("keywords", 60)}`, /keyterm and keywords: at most 100/],
    ["a boost that is not a number", "keywords=Unistim:high", /keywords must be word or word:boost/],
    ["a negative boost (suppression)", "keywords=Unistim:-3", /keywords: a negative boost/],
    ["a keyterm too long", `keyterm=${"x".repeat(51)}`, /at most 50 characters/],
  ])("Deepgram upload, %s: 400 naming the parameter", async (_what, query, message) => {
    const res = await post(query);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      err_code: "INVALID_PARAMETER",
      err_msg: expect.stringMatching(message),
    });
  });

  test("OpenAI prompt with more terms than the engine takes: 400 naming prompt", async () => {
    const prompt = Array.from({ length: MAX_VOCABULARY_TERMS + 1 }, (_, i) => `Term${i}`).join(" ");
    await expect(
      openai().audio.transcriptions.create({
        file: await toFile(unistim.wideband, "a.flac"),
        model: "whisper-1",
        prompt,
      }),
    ).rejects.toMatchObject({
      status: 400,
      error: {
        code: "invalid_parameter",
        message: expect.stringMatching(/^prompt: at most 100 vocabulary terms/),
      },
    });
  });
});

/** Linear16 at 16 kHz: a second of silence, the clip, a second of silence (the endpointing sees each utterance end). */
function utterance(clip: Clip): Buffer {
  const gap = new Float32Array(16000);
  const pcm = floatToInt16(Float32Array.from([...gap, ...clip.samples, ...gap]));
  return Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
}

describe("Deepgram live", () => {
  type Message = {
    type: string;
    is_final?: boolean;
    keyterms?: string[];
    description?: string;
    channel?: { alternatives: { transcript: string }[] };
  };

  /** One stream: the utterance, then (after `between`, if given) the utterance again; the final transcripts per utterance. */
  async function stream(query: { keyterm?: string[] }, between?: object) {
    const socket = await deepgram().listen.v1.connect({
      model: "nova-3",
      encoding: "linear16",
      sample_rate: 16000,
      endpointing: "300",
      reconnectAttempts: 0,
      // The stream's decoder (with its vocabulary) is made before the upgrade: more than the SDK's 4 s on a loaded machine.
      connectionTimeoutInSeconds: 120,
      ...query,
    });
    const messages: Message[] = [];
    let isClosed = false;
    const closed = new Promise<void>((resolve) =>
      socket.on("close", () => {
        isClosed = true;
        resolve();
      }),
    );
    socket.on("message", (m) => messages.push(m as Message));
    socket.connect();
    // The SDK has no sender for Configure: it goes out on the SDK's own socket.
    const ws = await socket.waitForOpen();
    const send = (audio: Buffer) => {
      for (let at = 0; at < audio.length; at += 3200) socket.sendMedia(audio.subarray(at, at + 3200));
    };
    const audio = utterance(thanks);
    send(audio);
    let firstCount = -1;
    if (between) {
      socket.sendFinalize({ type: "Finalize" });
      ws.send(JSON.stringify(between));
      await new Promise<void>((resolve) => {
        const check = () => (isClosed || messages.some((m) => m.type.startsWith("Configure")) ? resolve() : setTimeout(check, 20));
        check();
      });
      expect(messages.filter((m) => m.type === "Error")).toEqual([]);
      firstCount = messages.length;
      send(audio);
    }
    socket.sendCloseStream({ type: "CloseStream" });
    await closed;
    const finals = (list: Message[]) =>
      words(
        list
          .filter((m) => m.type === "Results" && m.is_final)
          .map((m) => m.channel?.alternatives[0].transcript ?? "")
          .join(" "),
      );
    return {
      messages,
      first: finals(between ? messages.slice(0, firstCount) : messages),
      second: between ? finals(messages.slice(firstCount)) : [],
    };
  }

  test("keyterm at open: the term is found; without it, missed", async () => {
    expect((await stream({})).first).not.toContain("pbx");
    expect((await stream({ keyterm: ["PBX"] })).first).toContain("pbx");
  });

  test("Configure mid-stream: ConfigureSuccess with the keyterms, applied from the next utterance", async () => {
    const { messages, first, second } = await stream({}, { type: "Configure", keyterms: ["PBX"] });
    expect(messages.find((m) => m.type === "ConfigureSuccess")).toMatchObject({
      keyterms: ["PBX"],
    });
    expect(first).not.toContain("pbx");
    expect(second).toContain("pbx");
  });

  test("Configure with an empty list clears the keyterms given at open", async () => {
    const { first, second } = await stream({ keyterm: ["PBX"] }, { type: "Configure", keyterms: [] });
    expect(first).toContain("pbx");
    expect(second).not.toContain("pbx");
  });

  test("a refused Configure is a ConfigureFailure and the stream goes on; bad keyterms at open are a 400 before the upgrade", async () => {
    const { messages, second } = await stream(
      {},
      {
        type: "Configure",
        keyterms: Array.from({ length: MAX_VOCABULARY_TERMS + 1 }, (_, i) => `t${i}`),
      },
    );
    expect(messages.find((m) => m.type === "ConfigureFailure")?.description).toMatch(/keyterms/);
    expect(second.length).toBeGreaterThan(0);
    const refused = await upgradeStatus(s.address.port, "/v1/listen?keywords=PBX:x", { authorization: `Token ${KEY}` });
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body)).toMatchObject({
      err_code: "INVALID_PARAMETER",
      err_msg: expect.stringMatching(/^keywords must be/),
    });
  });
});

describe("OpenAI Realtime", () => {
  type Ev = {
    type: string;
    transcript?: string;
    session?: { audio?: { input?: { transcription?: { prompt?: string } } } };
  };

  test("a transcription prompt set by session.update applies from the next utterance", async () => {
    /** The SDK always dials wss://; this test server speaks plain ws, so the socket is opened without TLS (the SDK is unchanged). */
    const rt = new OpenAIRealtimeWS(
      {
        model: "gpt-4o-transcribe",
        options: {
          createConnection: (o: net.NetConnectOpts) => net.connect(o),
        } as object,
      },
      new OpenAI({ apiKey: KEY, baseURL: `${s.base}/v1` }),
    );
    const events: Ev[] = [];
    rt.on("event", (e) => events.push(e as Ev));
    await new Promise<void>((resolve, reject) => {
      rt.socket.once("open", () => resolve());
      rt.socket.once("error", reject);
    });
    const waitFor = (what: () => boolean) =>
      new Promise<void>((resolve) => {
        const check = () => (what() ? resolve() : setTimeout(check, 20));
        check();
      });
    const completed = () => events.filter((e) => e.type === "conversation.item.input_audio_transcription.completed");
    const pcm24k = floatToInt16(resample(Float32Array.from([...new Float32Array(16000), ...thanks.samples, ...new Float32Array(16000)]), 16000, 24000));
    const audio = Buffer.from(pcm24k.buffer, pcm24k.byteOffset, pcm24k.byteLength);
    const turn = async () => {
      const before = completed().length;
      for (let at = 0; at < audio.length; at += 4800)
        rt.send({
          type: "input_audio_buffer.append",
          audio: audio.subarray(at, at + 4800).toString("base64"),
        });
      rt.send({ type: "input_audio_buffer.commit" });
      await waitFor(() => completed().length > before);
      return words(
        completed()
          .slice(before)
          .map((e) => e.transcript)
          .join(" "),
      );
    };
    const update = (input: object) => rt.send({ type: "session.update", session: { type: "transcription", audio: { input } } } as never);
    update({ transcription: { model: "gpt-4o-transcribe" }, turn_detection: null });
    expect(await turn()).not.toContain("pbx");
    update({ transcription: { model: "gpt-4o-transcribe", prompt: "Asterisk PBX" } });
    await waitFor(() => events.filter((e) => e.type === "session.updated").length >= 2);
    expect(events.filter((e) => e.type === "session.updated").at(-1)?.session?.audio?.input?.transcription?.prompt).toBe("Asterisk PBX");
    expect(await turn()).toContain("pbx");
    rt.close();
  });
});
