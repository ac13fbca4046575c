/**
 * Evaluates the end-of-turn detector on the HELD-OUT set (and, for reference, on the FIT set it was fitted on):
 *   npm run eval:turns -w inference-image
 * Each dialogue is streamed through TurnStream (Flux's defaults: eot_threshold 0.7, eot_timeout_ms 5000)
 * and through the server's fixed VAD endpoint (endpointing=300, as a voicebot sets it today). Reported:
 * EndOfTurn latency after each finished turn's last sound (p50/p95), false ends of turn in the pauses
 * inside turns, and the VAD endpoint at the latency that matches the detector's median (the smallest
 * endpointing whose median latency is at least the detector's). Times are on the
 * stream clock (audio time), so they hold whatever the machine's load; the compute per frame is reported apart.
 */
import os from "node:os";
import type { SpeechDetector } from "../../src/engines/vad";
import { loadTurnEngines, score, SETS_DIR, streamTurns, summarize, turnEnds, vadEndpoints } from "./run";
import { type DialogueLabel, ensureSplit, readDialogue } from "./synth";
import { pct } from "../server";

const BASELINE_MS = 300;
/** Endpointing values tried for the VAD endpoint whose median latency matches the detector's. */
const SWEEP_MS = Array.from({ length: 40 }, (_, i) => 50 + 50 * i);

function evalSplit(split: "fit" | "held-out") {
  const manifest = ensureSplit(split, SETS_DIR);
  const eng = loadTurnEngines();
  const detectors = new Map<number, SpeechDetector>();
  const audio = manifest.dialogues.map((d) => readDialogue(SETS_DIR, split, d));
  let cpuMs = 0;
  let audioS = 0;
  const detectorEnds = manifest.dialogues.map((d, i) => {
    const t = process.cpuUsage();
    const ends = turnEnds(streamTurns(eng, audio[i], {}));
    const used = process.cpuUsage(t);
    cpuMs += (used.user + used.system) / 1000;
    audioS += d.durationS;
    return ends;
  });
  const detector = score(manifest.dialogues, detectorEnds);
  const vadAt = (ms: number) => score(manifest.dialogues, audio.map((a) => vadEndpoints(eng.vadModel, a, ms, detectors)));
  const baseline = vadAt(BASELINE_MS);
  const target = pct(detector.latencies, 50);
  let matched = { endpointingMs: SWEEP_MS[SWEEP_MS.length - 1], score: vadAt(SWEEP_MS[SWEEP_MS.length - 1]) };
  for (const ms of SWEEP_MS) {
    const s = vadAt(ms);
    if (pct(s.latencies, 50) >= target) {
      matched = { endpointingMs: ms, score: s };
      break;
    }
  }
  const byVoice = [...new Set(manifest.dialogues.map((d) => d.voice))].map((voice) => {
    const idx = manifest.dialogues.map((d, i) => (d.voice === voice ? i : -1)).filter((i) => i >= 0);
    const pick = <T>(xs: T[]) => idx.map((i) => xs[i]);
    return { voice, detector: summarize(score(pick<DialogueLabel>(manifest.dialogues), pick(detectorEnds))) };
  });
  return {
    split,
    recipe: manifest.recipe,
    dialogues: manifest.dialogues.length,
    audio_minutes: Math.round(audioS / 6) / 10,
    voices: [...new Set(manifest.dialogues.map((d) => d.voice))],
    detector: summarize(detector),
    vad_endpoint_300ms: summarize(baseline),
    vad_endpoint_at_matched_latency: { endpointing_ms: matched.endpointingMs, ...summarize(matched.score) },
    detector_stream_cpu_ms_per_audio_s: Math.round((cpuMs / audioS) * 100) / 100,
    by_voice: byVoice,
  };
}

function main(): void {
  const load = os.loadavg()[0];
  const results = (["held-out", "fit"] as const).map(evalSplit);
  console.log(JSON.stringify({ machine: { cpus: os.availableParallelism(), loadavg1m_start: load, loadavg1m_end: os.loadavg()[0] }, results }, null, 2));
  console.log("\n| set | end of turn by | EndOfTurn latency p50 / p95 (ms) | false EOTs in mid-turn pauses | missed turn ends |");
  console.log("|---|---|---|---|---|");
  for (const r of results) {
    const row = (name: string, s: ReturnType<typeof summarize>) =>
      console.log(`| ${r.split} (${r.dialogues} dialogues, ${s.turns} turns, ${s.pauses} pauses) | ${name} | ${s.eot_latency_ms.p50} / ${s.eot_latency_ms.p95} | ${s.false_eots_in_pauses} (${(s.false_eot_rate * 100).toFixed(1)}%) | ${s.missed_turn_ends} |`);
    row("end-of-turn detector, eot_threshold 0.7", r.detector);
    row(`VAD endpoint ${BASELINE_MS} ms`, r.vad_endpoint_300ms);
    row(`VAD endpoint ${r.vad_endpoint_at_matched_latency.endpointing_ms} ms (matched p50)`, r.vad_endpoint_at_matched_latency);
  }
}

main();
