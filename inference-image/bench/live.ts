/**
 * Real-time (voicebot) benchmark, against the built server in its own process:
 *   npm run bench:live -w inference-image
 * N = 1, 4, 8, 16 concurrent live streams paced in real time (20 ms frames) of
 * [0.3 s silence][speech A][1.5 s silence][speech B][1.5 s silence], with a voicebot's options
 * (interim_results, endpointing=300, utterance_end_ms=1000, vad_events). Speech onsets and ends are
 * known from the signal itself. Per stream it records: the first interim after A's onset; each
 * speech_final's lag after the end of speech, minus endpointing; UtteranceEnd after the last word's end;
 * WER of the finals. Then N = 4 while two long batch transcriptions run, and the speak WebSocket's
 * Flush-to-first-audio at 1, 4 and 8 concurrent sockets. Prints JSON and a Markdown table.
 */
import os from "node:os";
import { WebSocket } from "ws";
import { floatToInt16 } from "../src/audio/pcm";
import { decodeAudio } from "../src/audio/upload";
import { encodeWav } from "../src/audio/wav";
import { concatSamples } from "../src/shared/samples";
import { wordErrorRate } from "../test/engines/helpers";
import { auth, KEY, ms, pct, startServer, synthesize } from "./server";

const A = "please call me back tomorrow morning";
const B = "the weather today is sunny and warm";
const ENDPOINTING_MS = 300;
const UTTERANCE_END_MS = 1000;
const FRAME_MS = 20;
const headers = { authorization: `Token ${KEY}` };
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

interface Speech {
  pcm: Buffer;
  rate: number;
  /** Seconds on the stream clock. */
  onsetA: number;
  endA: number;
  endB: number;
}

function pcmOf(wav: Buffer): Int16Array {
  const data = wav.subarray(44);
  return new Int16Array(data.buffer.slice(data.byteOffset, data.byteOffset + (data.length & ~1)));
}

/** First and last samples above the noise floor. */
function extent(pcm: Int16Array): [number, number] {
  let a = 0;
  while (a < pcm.length && Math.abs(pcm[a]) < 300) a++;
  let b = pcm.length - 1;
  while (b > a && Math.abs(pcm[b]) < 300) b--;
  return [a, b];
}

async function makeSpeech(base: string): Promise<Speech> {
  const wa = await synthesize(base, A);
  const rate = wa.readUInt32LE(24);
  const a = pcmOf(wa);
  const b = pcmOf(await synthesize(base, B));
  const gap = (s: number) => new Int16Array(Math.round(s * rate));
  const parts = [gap(0.3), a, gap(1.5), b, gap(1.5)];
  const all = concatSamples(parts);
  const [a0, a1] = extent(a);
  const bStart = 0.3 + a.length / rate + 1.5;
  return { pcm: Buffer.from(all.buffer), rate, onsetA: 0.3 + a0 / rate, endA: 0.3 + a1 / rate, endB: bStart + extent(b)[1] / rate };
}

interface StreamFigures {
  firstInterimMs?: number;
  finalLagMs: number[];
  utteranceEndAfterWordMs?: number;
  wer: number;
  speechStartedFirst: boolean;
}

async function liveStream(port: number, sp: Speech): Promise<StreamFigures> {
  const q = `encoding=linear16&sample_rate=${sp.rate}&interim_results=true&endpointing=${ENDPOINTING_MS}&utterance_end_ms=${UTTERANCE_END_MS}&vad_events=true`;
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/listen?${q}`, { headers });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  const msgs: { at: number; m: { type: string; is_final?: boolean; speech_final?: boolean; last_word_end?: number; channel?: { alternatives: { transcript: string }[] } } }[] = [];
  ws.on("message", (d) => msgs.push({ at: performance.now(), m: JSON.parse(d.toString()) }));
  const closed = new Promise<void>((resolve) => ws.once("close", () => resolve()));
  const frame = Math.round((sp.rate * FRAME_MS) / 1000) * 2;
  // Frame k (audio up to (k + 1) * 20 ms) leaves once its audio has happened: audio time x is on the wire by t0 + x.
  const t0 = performance.now();
  for (let i = 0, k = 1; i < sp.pcm.length; i += frame, k++) {
    await sleep(Math.max(0, t0 + k * FRAME_MS - performance.now()));
    ws.send(sp.pcm.subarray(i, i + frame));
  }
  ws.send(JSON.stringify({ type: "CloseStream" }));
  await closed;
  const wall = (x: number) => t0 + x * 1000;
  const text = (m: (typeof msgs)[number]["m"]) => m.channel?.alternatives[0].transcript ?? "";
  const interim = msgs.find((x) => x.m.type === "Results" && !x.m.is_final && text(x.m) !== "");
  const finals = msgs.filter((x) => x.m.type === "Results" && x.m.speech_final);
  const ends = [sp.endA, sp.endB];
  const ue = msgs.find((x) => x.m.type === "UtteranceEnd");
  const firstResult = msgs.findIndex((x) => x.m.type === "Results");
  const started = msgs.findIndex((x) => x.m.type === "SpeechStarted");
  return {
    firstInterimMs: interim ? interim.at - wall(sp.onsetA) : undefined,
    finalLagMs: finals.slice(0, 2).map((f, i) => f.at - wall(ends[i]) - ENDPOINTING_MS),
    utteranceEndAfterWordMs: ue ? ue.at - wall(ue.m.last_word_end!) : undefined,
    wer: wordErrorRate(`${A} ${B}`, msgs.filter((x) => x.m.type === "Results" && x.m.is_final).map((x) => text(x.m)).join(" ")),
    speechStartedFirst: started >= 0 && started < firstResult,
  };
}

async function liveLevel(port: number, sp: Speech, n: number) {
  // Staggered starts, as calls arrive: streams are not in lockstep.
  const runs = await Promise.all(Array.from({ length: n }, (_, i) => sleep((i * 997) % 1000).then(() => liveStream(port, sp))));
  const interims = runs.map((r) => r.firstInterimMs).filter((x): x is number => x !== undefined);
  const lags = runs.flatMap((r) => r.finalLagMs);
  const ue = runs.map((r) => r.utteranceEndAfterWordMs).filter((x): x is number => x !== undefined);
  return {
    streams: n,
    first_interim_ms: { p50: ms(pct(interims, 50)), p95: ms(pct(interims, 95)), n: interims.length },
    speech_final_lag_beyond_endpointing_ms: { p50: ms(pct(lags, 50)), p95: ms(pct(lags, 95)), max: ms(Math.max(...lags)), n: lags.length, expected: 2 * n },
    utterance_end_after_last_word_ms: { p50: ms(pct(ue, 50)), min: ms(Math.min(...ue)), n: ue.length },
    wer_mean: Math.round((runs.reduce((s, r) => s + r.wer, 0) / n) * 1000) / 1000,
    speech_started_before_first_result: runs.filter((r) => r.speechStartedFirst).length,
  };
}

/** Two long files transcribed back to back on two connections until `stop` resolves. */
function batchLoad(base: string, clip: Buffer, stop: Promise<void>): Promise<number> {
  let done = false;
  void stop.then(() => (done = true));
  let count = 0;
  const loop = async () => {
    while (!done) {
      const res = await fetch(`${base}/v1/listen`, { method: "POST", headers: { ...auth, "content-type": "audio/wav" }, body: clip });
      await res.arrayBuffer();
      count++;
    }
  };
  return Promise.all([loop(), loop()]).then(() => count);
}

async function longClip(base: string): Promise<Buffer> {
  const one = await synthesize(base, "the quick brown fox jumps over the lazy dog and then runs far away into the quiet forest");
  const { samples, sampleRate } = decodeAudio(one);
  // About a minute of speech: seconds of decoding per request.
  return encodeWav(floatToInt16(concatSamples(Array.from({ length: 12 }, () => samples))), sampleRate);
}

/** Flush to first audio byte, 10 turns per socket, `n` sockets at once. */
async function speakLevel(port: number, n: number) {
  const firsts: number[] = [];
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      await sleep((i * 37) % 200);
      const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/speak?model=aura-2-thalia-en&encoding=linear16&sample_rate=16000`, { headers });
      await new Promise<void>((resolve, reject) => {
        ws.once("open", () => resolve());
        ws.once("error", reject);
      });
      let onAudio: (() => void) | undefined;
      let onFlushed: (() => void) | undefined;
      ws.on("message", (d, binary) => {
        if (binary) onAudio?.();
        else if (JSON.parse(d.toString()).type === "Flushed") onFlushed?.();
      });
      for (let turn = 0; turn < 10; turn++) {
        // An LLM's tokens, then Flush at the end of its answer.
        for (const token of ["Sure", ",", " I", " can", " help", " you", " with", " that"]) ws.send(JSON.stringify({ type: "Speak", text: token }));
        const audio = new Promise<void>((resolve) => (onAudio = resolve));
        const flushed = new Promise<void>((resolve) => (onFlushed = resolve));
        const t = performance.now();
        ws.send(JSON.stringify({ type: "Flush" }));
        await audio;
        firsts.push(performance.now() - t);
        onAudio = undefined;
        await flushed;
        await sleep(100);
      }
      ws.close();
    }),
  );
  return { sockets: n, flush_to_first_audio_ms: { p50: ms(pct(firsts, 50)), p95: ms(pct(firsts, 95)), n: firsts.length } };
}

async function main(): Promise<void> {
  const { child, base, port } = await startServer();
  try {
    const sp = await makeSpeech(base);
    const load = { start: os.loadavg()[0] };
    const live = [];
    for (const n of [1, 4, 8, 16]) live.push(await liveLevel(port, sp, n));
    const clip = await longClip(base);
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const batch = batchLoad(base, clip, stopped);
    await sleep(500);
    const mixed = await liveLevel(port, sp, 4);
    stop();
    const batchDone = await batch;
    const speak = [];
    for (const n of [1, 4, 8]) speak.push(await speakLevel(port, n));
    const summary = { cores: os.availableParallelism(), load: { ...load, end: os.loadavg()[0] }, live, with_two_batch_jobs: { ...mixed, batch_requests_completed: batchDone }, speak };
    console.log(JSON.stringify(summary, null, 2));
    console.log("\n| streams | first interim p50 / p95 (ms) | speech_final lag beyond endpointing p50 / p95 / max (ms) | UtteranceEnd after last word p50 / min (ms) | WER | SpeechStarted first |");
    console.log("|---|---|---|---|---|---|");
    for (const l of [...live, { ...mixed, streams: "4 + 2 batch" }]) {
      const i = l.first_interim_ms;
      const f = l.speech_final_lag_beyond_endpointing_ms;
      const u = l.utterance_end_after_last_word_ms;
      console.log(`| ${l.streams} | ${i.p50} / ${i.p95} | ${f.p50} / ${f.p95} / ${f.max} (${f.n}/${f.expected}) | ${u.p50} / ${u.min} | ${l.wer_mean} | ${l.speech_started_before_first_result} |`);
    }
    console.log("\n| speak sockets | Flush to first audio p50 / p95 (ms) |");
    console.log("|---|---|");
    for (const s of speak) console.log(`| ${s.sockets} | ${s.flush_to_first_audio_ms.p50} / ${s.flush_to_first_audio_ms.p95} |`);
  } finally {
    child.kill("SIGTERM");
  }
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
