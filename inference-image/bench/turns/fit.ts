/**
 * Fits the end-of-turn model on the FIT set only, and writes src/turns/eot-model.json:
 *   npm run fit:turns -w inference-image
 * Every pause frame of the FIT dialogues (TurnStream with the detector never firing, turns ended by a
 * 2.5 s timeout) is recorded with its cues, its length and the speaker's usual pause, and labelled: a
 * pause inside a turn, or the silence after a finished turn. The cue model is a logistic regression (L2,
 * Newton's method) on each pause's first frame. Then the spread of the speaker's pauses and a shift of
 * the cue odds are chosen: the fewest false ends on the FIT set's pauses, at the default threshold (0.7),
 * among settings whose median and p95 end-of-turn latency there stay within budget. A replay of the
 * recorded frames ranks a grid quickly but cannot see what a false end changes (the turn restarts, with
 * fewer words); so the spread it prefers is then run for real, with the detector ending turns, at a few
 * shifts, and those runs decide.
 */
import fs from "node:fs";
import path from "node:path";
import { DEFAULT_TURN_OPTIONS } from "../../src/engines/turn-stream";
import { type EotModel, eotConfidence, FEATURES, type FeatureName } from "../../src/turns/detector";
import { pct } from "../server";
import { loadTurnEngines, score, SETS_DIR, streamTurns, turnEnds, type TurnEngines } from "./run";
import { type DialogueLabel, ensureSplit, readDialogue } from "./synth";

/** The median end-of-turn latency the fit aims for on its own set (the target is 0.4 s on the held-out set)... */
const LATENCY_BUDGET_S = 0.35;
/** ...and no finished turn should wait much longer than this, p95. */
const LATENCY_P95_BUDGET_S = 2;
const SIGMAS = [0.4, 0.5, 0.6, 0.7, 0.8, 1.0];
const SHIFTS = [-0.4, -0.3, -0.2, -0.1, 0, 0.1, 0.2];
/** Shifts tried for real, from the replay's choice towards earlier ends (false ends in the replay are never earlier). */
const LIVE_SHIFT_STEPS = [0, 0.1, 0.2, 0.3];
const RIDGE = 1;
/** While collecting, turns end after this long a pause (the longest pause inside a turn is 2.2 s). */
const COLLECT_TIMEOUT_MS = 2500;
const MODEL_FILE = path.resolve(__dirname, "../../../../src/turns/eot-model.json");

interface Sample {
  dialogue: number;
  /** The pause this frame is in: "mid" (index into the dialogue's pauses) or "end" (index of the finished turn). */
  kind: "mid" | "end";
  event: number;
  /** Seconds since the labelled start of the pause (mid) or the turn's last sound (end). */
  since: number;
  /** The cues, in FEATURES order (NaN: not measured). */
  x: number[];
  pauseS: number;
  typicalPauseS: number;
}

function collect(eng: TurnEngines, dialogues: DialogueLabel[]): Sample[] {
  const samples: Sample[] = [];
  dialogues.forEach((d, di) => {
    const pauses = d.turns.flatMap((t) => t.pauses);
    const audio = readDialogue(SETS_DIR, "fit", d);
    streamTurns(eng, audio, { eotThreshold: 2, eotTimeoutMs: COLLECT_TIMEOUT_MS }, undefined, (at, pauseStart, p) => {
      const sample = { dialogue: di, x: FEATURES.map((name) => p.cues[name]), pauseS: p.pauseS, typicalPauseS: p.typicalPauseS };
      // The detector dates a pause's start from the audio; the label's start is within a frame or two of it.
      const mid = pauses.findIndex((q) => pauseStart >= q.start - 0.3 && pauseStart < q.end);
      if (mid >= 0) return void samples.push({ ...sample, kind: "mid", event: mid, since: at - pauses[mid].start });
      const end = d.turns.findIndex((t, ti) => pauseStart >= t.end - 0.3 && pauseStart < (d.turns[ti + 1]?.start ?? Infinity));
      if (end >= 0) samples.push({ ...sample, kind: "end", event: end, since: at - d.turns[end].end });
    });
    process.stderr.write(`collected ${d.id}: ${samples.length} pause frames so far\n`);
  });
  return samples;
}

/** L2-regularized logistic regression by Newton's method on standardized inputs (NaN inputs count as the mean). */
function fitLogistic(samples: Sample[]): Omit<EotModel, "pauseSigma"> {
  const k = FEATURES.length;
  const mean = FEATURES.map((_, j) => {
    const v = samples.map((s) => s.x[j]).filter((x) => !Number.isNaN(x));
    return v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
  });
  const scale = FEATURES.map((_, j) => {
    const v = samples.map((s) => s.x[j]).filter((x) => !Number.isNaN(x));
    const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean[j]) ** 2, 0) / Math.max(1, v.length));
    return sd > 1e-9 ? sd : 1;
  });
  const rows = samples.map((s) => [1, ...s.x.map((x, j) => (Number.isNaN(x) ? 0 : (x - mean[j]) / scale[j]))]);
  const y = samples.map((s) => (s.kind === "end" ? 1 : 0));
  let beta = new Array<number>(k + 1).fill(0);
  for (let iter = 0; iter < 50; iter++) {
    const grad = new Array<number>(k + 1).fill(0);
    const hess = Array.from({ length: k + 1 }, () => new Array<number>(k + 1).fill(0));
    rows.forEach((r, i) => {
      const z = r.reduce((a, x, j) => a + x * beta[j], 0);
      const p = 1 / (1 + Math.exp(-z));
      for (let a = 0; a <= k; a++) {
        grad[a] += (p - y[i]) * r[a];
        for (let b = 0; b <= k; b++) hess[a][b] += p * (1 - p) * r[a] * r[b];
      }
    });
    // The intercept is not penalized.
    for (let a = 1; a <= k; a++) {
      grad[a] += RIDGE * beta[a];
      hess[a][a] += RIDGE;
    }
    const step = solve(hess, grad);
    beta = beta.map((b, j) => b - step[j]);
    if (Math.max(...step.map(Math.abs)) < 1e-8) break;
  }
  return { features: [...FEATURES], mean, scale, weights: beta.slice(1), bias: beta[0] };
}

/** Gaussian elimination with partial pivoting. */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    [m[c], m[p]] = [m[p], m[c]];
    for (let r = c + 1; r < n; r++) {
      const f = m[r][c] / m[c][c];
      for (let j = c; j <= n; j++) m[r][j] -= f * m[c][j];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) x[r] = (m[r][n] - m.slice(r + 1, n).reduce((s, _, i) => s + m[r][r + 1 + i] * x[r + 1 + i], 0)) / m[r][r];
  return x;
}

/** The first pause frame of each labelled pause: the cue model is fitted on one sample per pause. */
function firstOfEach(samples: Sample[]): Sample[] {
  const seen = new Set<string>();
  return samples.filter((s) => {
    const key = `${s.dialogue}/${s.kind}/${s.event}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The FIT dialogues streamed with the detector ending turns, as it would live. */
function runFor(eng: TurnEngines, dialogues: DialogueLabel[], audio: Float32Array[], model: EotModel) {
  const sc = score(
    dialogues,
    audio.map((a) => turnEnds(streamTurns(eng, a, {}, model))),
  );
  return { falseEnds: sc.falseEnds, pauses: sc.pauses, p50: pct(sc.latencies, 50), p95: pct(sc.latencies, 95), missed: sc.missed };
}

/** Replays the collected frames at the default threshold: false ends in pauses, and end-of-turn latency after finished turns. */
function simulate(model: EotModel, samples: Sample[]): { falseEnds: number; pauses: number; p50: number; p95: number } {
  const fired = new Map<string, number>();
  const seen = new Set<string>();
  for (const s of samples) {
    const key = `${s.dialogue}/${s.kind}/${s.event}`;
    seen.add(key);
    if (fired.has(key)) continue;
    const cues = Object.fromEntries(FEATURES.map((f, j) => [f, s.x[j]])) as Record<FeatureName, number>;
    if (eotConfidence(model, { cues, pauseS: s.pauseS, typicalPauseS: s.typicalPauseS }) >= DEFAULT_TURN_OPTIONS.eotThreshold) fired.set(key, s.since);
  }
  const mids = [...seen].filter((k) => k.includes("/mid/"));
  const ends = [...seen].filter((k) => k.includes("/end/"));
  const lat = ends.map((k) => fired.get(k) ?? COLLECT_TIMEOUT_MS / 1000);
  return { falseEnds: mids.filter((k) => fired.has(k)).length, pauses: mids.length, p50: pct(lat, 50), p95: pct(lat, 95) };
}

function main(): void {
  const manifest = ensureSplit("fit", SETS_DIR);
  const eng = loadTurnEngines();
  const cache = path.join(SETS_DIR, "fit", `pause-frames-${manifest.recipe}.json`);
  let samples: Sample[];
  if (fs.existsSync(cache) && !process.argv.includes("--recollect")) samples = JSON.parse(fs.readFileSync(cache, "utf8"), (_, v) => (v === null ? NaN : v)) as Sample[];
  else {
    samples = collect(eng, manifest.dialogues);
    fs.writeFileSync(cache, JSON.stringify(samples));
  }
  const cueModel = fitLogistic(firstOfEach(samples));
  const withinBudget = (f: { p50: number; p95: number }) => f.p50 <= LATENCY_BUDGET_S && f.p95 <= LATENCY_P95_BUDGET_S;
  const fewestFalse = <T extends { fit: { falseEnds: number; p50: number } }>(a: T, b: T) => (b.fit.falseEnds < a.fit.falseEnds || (b.fit.falseEnds === a.fit.falseEnds && b.fit.p50 < a.fit.p50) ? b : a);
  const replayed = SIGMAS.flatMap((pauseSigma) =>
    SHIFTS.map((shift) => {
      const model: EotModel = { ...cueModel, bias: cueModel.bias + shift, pauseSigma };
      return { shift, model, fit: simulate(model, samples) };
    }),
  );
  for (const t of replayed) console.error(`replay: pause sigma ${t.model.pauseSigma}, odds shift ${t.shift}: ${JSON.stringify(t.fit)}`);
  const inReplay = replayed.filter((t) => withinBudget(t.fit));
  if (inReplay.length === 0) throw new Error(`no setting keeps the FIT set's end-of-turn latency within ${LATENCY_BUDGET_S} s (p50) and ${LATENCY_P95_BUDGET_S} s (p95) in the replay`);
  const replayChoice = inReplay.reduce(fewestFalse);
  const audio = manifest.dialogues.map((d) => readDialogue(SETS_DIR, "fit", d));
  const live = LIVE_SHIFT_STEPS.map((step) => {
    const shift = Math.round((replayChoice.shift + step) * 100) / 100;
    const model: EotModel = { ...cueModel, bias: cueModel.bias + shift, pauseSigma: replayChoice.model.pauseSigma };
    const fit = runFor(eng, manifest.dialogues, audio, model);
    console.error(`live: pause sigma ${model.pauseSigma}, odds shift ${shift}: ${JSON.stringify(fit)}`);
    return { shift, model, fit };
  });
  const inLive = live.filter((t) => withinBudget(t.fit));
  // None within budget: the earliest-ending one (its median latency is the closest to the budget).
  const best = inLive.length > 0 ? inLive.reduce(fewestFalse) : live.reduce((a, b) => (b.fit.p50 < a.fit.p50 ? b : a));
  const round = (v: number) => Math.round(v * 1e6) / 1e6;
  const out = {
    ...best.model,
    mean: best.model.mean.map(round),
    scale: best.model.scale.map(round),
    weights: best.model.weights.map(round),
    bias: round(best.model.bias),
    pauseSigma: best.model.pauseSigma,
    provenance: {
      command: "npm run fit:turns -w inference-image",
      set: `FIT split, recipe ${manifest.recipe} (bench/turns/set.ts): ${manifest.dialogues.length} dialogues, ${samples.length} pause frames`,
      oddsShift: best.shift,
      ridge: RIDGE,
      fitSetReplayChoice: { pauseSigma: replayChoice.model.pauseSigma, oddsShift: replayChoice.shift, ...replayChoice.fit },
      fitSetAtDefaultThreshold: best.fit,
      withinBudget: inLive.length > 0,
      features: Object.fromEntries(FEATURES.map((f: FeatureName, j) => [f, round(best.model.weights[j])])),
    },
  };
  fs.writeFileSync(MODEL_FILE, JSON.stringify(out, null, 2) + "\n");
  console.log(JSON.stringify(out.provenance, null, 2));
}

main();
