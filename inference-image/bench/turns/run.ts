/**
 * What the turn-taking fit and evaluation share: the engines as a live worker runs them (pocketsphinx's live
 * decoder, Silero VAD), a dialogue streamed through TurnStream or through the fixed VAD endpoint the server
 * uses for `endpointing`, and the scoring of end-of-turn times against the set's labels.
 */
import path from "node:path";
import { engineConfigFromEnv } from "../../src/engines/config";
import type { SttEngine, UtteranceDecoder } from "../../src/engines/engine";
import { loadEngines } from "../../src/engines/load";
import { type PauseTap, type TurnEvent, type TurnOptions, TurnStream } from "../../src/engines/turn-stream";
import { SpeechDetector, VAD_FOR_TURNS, VAD_WINDOW, vadForEndpointing } from "../../src/engines/vad";
import type { EotModel } from "../../src/turns/detector";
import { pct } from "../server";
import type { DialogueLabel } from "./synth";
import { RATE } from "./synth";

export const SETS_DIR = path.resolve(__dirname, "../../../../.tmp/turns");
/** Clients send 20 ms frames. */
const CHUNK = RATE / 50;

export interface TurnEngines {
  stt: SttEngine;
  vadModel: string;
  decoder: UtteranceDecoder;
  turnVad: SpeechDetector;
}

/** The STT engine as configured by the environment (POCKETSPHINX_* as the server reads them), one live decoder, one turn VAD. */
export function loadTurnEngines(): TurnEngines {
  const { stt, vadModel } = loadEngines(engineConfigFromEnv({ ...process.env, WORKERS: "1" }), { tts: false });
  return { stt, vadModel, decoder: stt.createDecoder(), turnVad: new SpeechDetector(vadModel, RATE, VAD_FOR_TURNS) };
}

/** Stream a dialogue through TurnStream in 20 ms chunks; the decoder and detector are reused, as a worker reuses them. */
export function streamTurns(eng: TurnEngines, samples: Float32Array, options: Partial<TurnOptions>, model?: EotModel, tap?: PauseTap): TurnEvent[] {
  eng.turnVad.reset();
  const stream = new TurnStream(eng.decoder, eng.turnVad, RATE, "en", options, model, tap);
  const events: TurnEvent[] = [];
  for (let i = 0; i < samples.length; i += CHUNK) events.push(...stream.push(samples.subarray(i, i + CHUNK)));
  events.push(...stream.finish());
  stream.close();
  return events;
}

/** Where the server's VAD endpoint (Deepgram `endpointing=ms`) ends utterances in a dialogue: stream seconds. */
export function vadEndpoints(vadModel: string, samples: Float32Array, endpointingMs: number, detectors: Map<number, SpeechDetector>): number[] {
  let detector = detectors.get(endpointingMs);
  if (!detector) {
    detector = new SpeechDetector(vadModel, RATE, vadForEndpointing(endpointingMs));
    detectors.set(endpointingMs, detector);
  }
  detector.reset();
  const ends: number[] = [];
  for (let at = 0; at + VAD_WINDOW <= samples.length; at += VAD_WINDOW) {
    if (detector.accept(samples.subarray(at, at + VAD_WINDOW))) ends.push((at + VAD_WINDOW) / RATE);
  }
  return ends;
}

/** A detector's end-of-turn decisions this soon after a pause ends were still made on that pause (they lag the audio). */
const DECISION_LAG_S = 0.2;

export interface Score {
  turns: number;
  pauses: number;
  /** Seconds from each finished turn's last sound to the first end-of-turn after it. */
  latencies: number[];
  /** Finished turns with no end-of-turn before the next turn began. */
  missed: number;
  /** Pauses inside turns in which an end-of-turn was declared. */
  falseEnds: number;
  /** End-of-turn declared while the speaker was talking (neither in a pause nor after the turn). */
  duringSpeech: number;
}

/** Score end-of-turn times (stream seconds, per dialogue) against the labels. */
export function score(dialogues: DialogueLabel[], endsPerDialogue: number[][]): Score {
  const s: Score = { turns: 0, pauses: 0, latencies: [], missed: 0, falseEnds: 0, duringSpeech: 0 };
  dialogues.forEach((d, di) => {
    const ends = endsPerDialogue[di];
    const used = new Set<number>();
    d.turns.forEach((turn, ti) => {
      s.turns++;
      for (const p of turn.pauses) {
        s.pauses++;
        const inPause = ends.filter((e) => e >= p.start && e < p.end + DECISION_LAG_S);
        inPause.forEach((e) => used.add(e));
        if (inPause.length > 0) s.falseEnds++;
      }
      const next = d.turns[ti + 1]?.start ?? d.durationS + 1;
      const after = ends.find((e) => e >= turn.end && e < next);
      if (after === undefined) s.missed++;
      else {
        s.latencies.push(after - turn.end);
        used.add(after);
      }
      s.duringSpeech += ends.filter((e) => e >= turn.start && e < turn.end && !used.has(e)).length;
    });
  });
  return s;
}

export function summarize(s: Score) {
  const msOf = (x: number) => Math.round(x * 1000);
  return {
    turns: s.turns,
    pauses: s.pauses,
    eot_latency_ms: { p50: msOf(pct(s.latencies, 50)), p95: msOf(pct(s.latencies, 95)), n: s.latencies.length },
    missed_turn_ends: s.missed,
    false_eots_in_pauses: s.falseEnds,
    false_eot_rate: Math.round((s.falseEnds / Math.max(1, s.pauses)) * 1000) / 1000,
    eots_during_speech: s.duringSpeech,
  };
}

export const turnEnds = (events: TurnEvent[]): number[] => events.filter((e) => e.kind === "turn-end").map((e) => e.at);
