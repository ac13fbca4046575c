/**
 * One clip of the real-speech set through one of the server's routes, as a client sends it:
 * - openai-upload: POST /v1/audio/transcriptions (multipart, the 16 kHz FLAC);
 * - deepgram-upload: POST /v1/listen (the FLAC as the body);
 * - live: GET /v1/listen WebSocket, linear16 at 16 kHz in 20 ms frames, a voicebot's endpointing=300;
 * - telephony-upload: POST /v1/listen with the 8 kHz mu-law WAV;
 * - telephony-live: the WebSocket with encoding=mulaw&sample_rate=8000 in 20 ms (160-byte) frames.
 * Live audio is followed by 1 s of silence (as a call goes on after a sentence), then CloseStream; frames go
 * out at `pace` times real time (the server's endpointing runs on stream time, so pace changes no result
 * unless the server falls behind).
 */
import { WebSocket } from "ws";
import { floatToInt16 } from "../src/audio/pcm";
import type { Clip } from "./real-speech";

export const ROUTES = ["openai-upload", "deepgram-upload", "live", "telephony-upload", "telephony-live"] as const;
export type Route = (typeof ROUTES)[number];
export const UPLOAD_ROUTES: readonly Route[] = ["openai-upload", "deepgram-upload", "telephony-upload"];

export interface Target {
  base: string;
  key: string;
  /** Live frames are sent at this multiple of real time. */
  pace?: number;
}

const FRAME_MS = 20;
/** Mu-law's code for 0. */
const MULAW_SILENCE = 0xff;

async function expectOk(res: Response, what: string): Promise<unknown> {
  const body = await res.text();
  if (res.status !== 200) throw new Error(`${what}: HTTP ${res.status} ${body.slice(0, 300)}`);
  return JSON.parse(body);
}

async function openaiUpload(t: Target, clip: Clip): Promise<string> {
  const form = new FormData();
  form.append("file", new Blob([clip.wideband]), `${clip.id.replace(/\//g, "-")}.flac`);
  form.append("model", "whisper-1");
  const res = await fetch(`${t.base}/v1/audio/transcriptions`, { method: "POST", headers: { authorization: `Bearer ${t.key}` }, body: form });
  return ((await expectOk(res, `openai-upload ${clip.id}`)) as { text: string }).text;
}

async function deepgramUpload(t: Target, clip: Clip, body: Buffer, contentType: string): Promise<string> {
  const res = await fetch(`${t.base}/v1/listen`, { method: "POST", headers: { authorization: `Token ${t.key}`, "content-type": contentType }, body });
  const json = (await expectOk(res, `deepgram-upload ${clip.id}`)) as { results: { channels: { alternatives: { transcript: string }[] }[] } };
  return json.results.channels[0].alternatives[0].transcript;
}

function frames(clip: Clip, telephony: boolean): Buffer[] {
  const out: Buffer[] = [];
  if (telephony) {
    const audio = Buffer.concat([clip.mulaw, Buffer.alloc(8000, MULAW_SILENCE)]);
    for (let at = 0; at < audio.length; at += 160) out.push(audio.subarray(at, at + 160));
  } else {
    const pcm = floatToInt16(clip.samples);
    const audio = Buffer.concat([Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength), Buffer.alloc(32000)]);
    for (let at = 0; at < audio.length; at += 640) out.push(audio.subarray(at, at + 640));
  }
  return out;
}

async function live(t: Target, clip: Clip, telephony: boolean): Promise<string> {
  const query = telephony ? "encoding=mulaw&sample_rate=8000" : "encoding=linear16&sample_rate=16000";
  const ws = new WebSocket(`${t.base.replace(/^http/, "ws")}/v1/listen?${query}&endpointing=300`, { headers: { authorization: `Token ${t.key}` } });
  const finals: string[] = [];
  const closed = new Promise<void>((resolve, reject) => {
    ws.on("message", (data, isBinary) => {
      if (isBinary) return;
      const msg = JSON.parse(data.toString()) as { type: string; is_final?: boolean; channel?: { alternatives: { transcript: string }[] } };
      if (msg.type === "Results" && msg.is_final && msg.channel?.alternatives[0].transcript) finals.push(msg.channel.alternatives[0].transcript);
    });
    ws.on("close", (code, reason) => (code === 1000 ? resolve() : reject(new Error(`live ${clip.id}: closed ${code} ${reason.toString()}`))));
    ws.on("error", reject);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const pace = t.pace ?? 1;
  const started = performance.now();
  const all = frames(clip, telephony);
  for (let i = 0; i < all.length; i++) {
    ws.send(all[i]);
    // Frame i+1 is due once i+1 frames of audio have "happened" (at `pace` times real time).
    const wait = ((i + 1) * FRAME_MS) / pace - (performance.now() - started);
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  }
  ws.send(JSON.stringify({ type: "CloseStream" }));
  await closed;
  return finals.join(" ");
}

/** The text the server returns for `clip` on `route`. */
export function transcribeClip(route: Route, t: Target, clip: Clip): Promise<string> {
  switch (route) {
    case "openai-upload":
      return openaiUpload(t, clip);
    case "deepgram-upload":
      return deepgramUpload(t, clip, clip.wideband, "audio/flac");
    case "telephony-upload":
      return deepgramUpload(t, clip, clip.telephony, "audio/wav");
    case "live":
      return live(t, clip, false);
    case "telephony-live":
      return live(t, clip, true);
  }
}

/** Every clip through `route`, `concurrency` at a time; texts in clip order. */
export async function transcribeAll(route: Route, t: Target, clips: Clip[], concurrency: number): Promise<string[]> {
  const texts = new Array<string>(clips.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < clips.length; i = next++) texts[i] = await transcribeClip(route, t, clips[i]);
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return texts;
}
