/**
 * Load benchmark for the inference server, run against the built server in its own process (as deployed):
 *   npm run bench -w inference-image
 * Measures, at concurrency 1, 8 and 32: STT of a 5 s clip and TTS of a 10-word sentence (req/s, p50/p99,
 * status counts); TTS time to first byte; live STT time to the first interim result; and /health/live
 * latency while the workers are saturated; per audio format, the upload decode overhead against WAV and
 * the TTS first byte (./formats). Prints a JSON summary and Markdown tables.
 */
import { WebSocket } from "ws";
import { formatBench, formatTables } from "./formats";
import { auth, fitWav, KEY, ms, pct, startServer, synthesize } from "./server";

const SENTENCE_10 = "please call stella and ask her to bring these things";
const CLIP_TEXT = "the quick brown fox jumps over the lazy dog and then runs far away into the quiet forest";
const LEVELS = [1, 8, 32];

interface Level {
  concurrency: number;
  requests: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  ok: number;
  status429: number;
  p99_429_ms: number;
  other_errors: number;
  first_byte_p50_ms?: number;
  first_byte_p99_ms?: number;
}

async function runLevel(concurrency: number, total: number, once: () => Promise<{ status: number; ms: number; firstByteMs?: number }>): Promise<Level> {
  const results: { status: number; ms: number; firstByteMs?: number }[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < total) results.push(await once().catch(() => ({ status: 0, ms: NaN })));
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const ok = results.filter((r) => r.status === 200);
  const busy = results.filter((r) => r.status === 429);
  const fb = ok.map((r) => r.firstByteMs).filter((x): x is number => x !== undefined);
  return {
    concurrency,
    requests: results.length,
    rps: Math.round((ok.length / seconds) * 100) / 100,
    p50_ms: ms(pct(ok.map((r) => r.ms), 50)),
    p99_ms: ms(pct(ok.map((r) => r.ms), 99)),
    ok: ok.length,
    status429: busy.length,
    p99_429_ms: ms(pct(busy.map((r) => r.ms), 99)),
    other_errors: results.length - ok.length - busy.length,
    ...(fb.length > 0 ? { first_byte_p50_ms: ms(pct(fb, 50)), first_byte_p99_ms: ms(pct(fb, 99)) } : {}),
  };
}

async function timed(send: () => Promise<Response>, firstByte = false): Promise<{ status: number; ms: number; firstByteMs?: number }> {
  const t0 = performance.now();
  const res = await send();
  let firstByteMs: number | undefined;
  const reader = res.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (firstByte && firstByteMs === undefined && value && value.length > 44) firstByteMs = performance.now() - t0;
    if (done) break;
  }
  return { status: res.status, ms: performance.now() - t0, firstByteMs };
}

/** Time from the first audio frame to the first interim Results, streaming at real time. */
async function liveFirstInterim(port: number, wav: Buffer): Promise<number> {
  const pcm = wav.subarray(44);
  const rate = wav.readUInt32LE(24);
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/listen?encoding=linear16&sample_rate=${rate}&interim_results=true`, { headers: { authorization: `Token ${KEY}` } });
  await new Promise((r, j) => {
    ws.once("open", r);
    ws.once("error", j);
  });
  const t0 = performance.now();
  const first = new Promise<number>((resolve) =>
    ws.on("message", (d) => {
      const m = JSON.parse(d.toString()) as { type: string; is_final?: boolean; channel?: { alternatives: { transcript: string }[] } };
      if (m.type === "Results" && m.channel?.alternatives[0].transcript) resolve(performance.now() - t0);
    }),
  );
  const frame = (rate / 10) * 2;
  let stop = false;
  void (async () => {
    for (let i = 0; i < pcm.length && !stop; i += frame) {
      ws.send(pcm.subarray(i, i + frame));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const result = await first;
  stop = true;
  ws.close();
  return result;
}

async function main(): Promise<void> {
  const { child, base, port } = await startServer();
  try {
    const clip = fitWav(await synthesize(base, CLIP_TEXT), 5);
    const stt = () => timed(() => fetch(`${base}/v1/listen?model=nova-3`, { method: "POST", headers: { ...auth, "content-type": "audio/wav" }, body: clip }));
    const tts = () =>
      timed(() => fetch(`${base}/v1/audio/speech`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ model: "tts-1", input: SENTENCE_10, response_format: "wav" }) }), true);
    await stt();
    await tts();

    const sttLevels: Level[] = [];
    const ttsLevels: Level[] = [];
    for (const c of LEVELS) sttLevels.push(await runLevel(c, Math.max(8, 2 * c), stt));
    for (const c of LEVELS) ttsLevels.push(await runLevel(c, Math.max(20, 4 * c), tts));

    const interims: number[] = [];
    for (let i = 0; i < 3; i++) interims.push(await liveFirstInterim(port, clip));

    // Health latency while 32 STT clients keep the workers saturated.
    const health: number[] = [];
    let saturating = true;
    const load = runLevel(32, 96, stt).finally(() => (saturating = false));
    await new Promise((r) => setTimeout(r, 500));
    while (saturating) {
      const t0 = performance.now();
      const r = await fetch(`${base}/health/live`);
      await r.arrayBuffer();
      health.push(performance.now() - t0);
      await new Promise((r2) => setTimeout(r2, 20));
    }
    const saturated = await load;
    const formats = await formatBench(base, auth, clip, SENTENCE_10);

    const summary = {
      stt_5s_clip: sttLevels,
      stt_rtf_c1: Math.round((sttLevels[0].p50_ms / 5000) * 1000) / 1000,
      tts_10_words: ttsLevels,
      live_first_interim_ms: { median: ms(pct(interims, 50)), runs: interims.map(ms) },
      health_under_saturation: { samples: health.length, p50_ms: ms(pct(health, 50)), p99_ms: ms(pct(health, 99)), load: saturated },
      formats,
    };
    console.log(JSON.stringify(summary, null, 2));
    const row = (kind: string, l: Level) =>
      `| ${kind} | ${l.concurrency} | ${l.requests} | ${l.rps} | ${l.p50_ms} | ${l.p99_ms} | ${l.status429} (p99 ${Number.isNaN(l.p99_429_ms) ? "-" : l.p99_429_ms} ms) | ${l.other_errors} | ${l.first_byte_p50_ms ?? "-"} / ${l.first_byte_p99_ms ?? "-"} |`;
    console.log(
      [
        "| workload | c | requests | ok req/s | p50 ms | p99 ms | 429s | other errors | first byte p50/p99 ms |",
        "|---|---|---|---|---|---|---|---|---|",
        ...sttLevels.map((l) => row("STT 5 s clip", l)),
        ...ttsLevels.map((l) => row("TTS 10 words", l)),
        "",
        formatTables(formats),
      ].join("\n"),
    );
  } finally {
    child.kill("SIGTERM");
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
