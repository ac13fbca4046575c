/**
 * Makes the turn-taking sets (set.ts) with the Debian archive's synthesizers and sox:
 *   apt-get install flite espeak-ng festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts sox
 * Each turn is spoken whole, so the words before a pause keep the prosody of a sentence that goes on:
 * Flite and Festival get a comma at each `|` and report where their phrase-break pause falls (segment
 * times); eSpeak NG gets an SSML break of a marker length, found again in the audio. sox converts
 * everything to 16 kHz mono; each pause is then cut out and replaced with silence of the wanted length.
 * Turns are levelled to the same speech loudness, joined into dialogues with silence between them, and
 * white noise is mixed in (the deterministic generator below), so pauses are not digital silence.
 *
 * Output, per split: `<dir>/<split>/<dialogue>.raw` (signed 16-bit little-endian mono, 16 kHz) and
 * `manifest.json` with every turn's text, voice, speech start and end, and its pauses (stream seconds).
 */
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { GAP_AFTER_TURN_S, LEAD_S, NOISE_DBFS, PAUSE_HABITS_S, PAUSE_RANGE_S, PAUSE_SIGMA, SPLITS, TURNS_PER_DIALOGUE, type Voice } from "./set";

export const RATE = 16000;
/** eSpeak NG's break at each `|`: long enough to tell from any pause it makes by itself. */
const MARKER_BREAK_MS = 1000;
/** Speech level every turn is brought to (RMS over its loud 10 ms frames, dBFS). */
const SPEECH_DBFS = -20;
/** A 10 ms frame this far below the speech level is not speech (for finding a turn's first and last sound). */
const SPEECH_EDGE_BELOW_DB = 35;

export interface TurnLabel {
  text: string;
  voice: string;
  /** Stream seconds of the turn's first and last sound. */
  start: number;
  end: number;
  /** Pauses inside the turn (a false end of turn here is a mistake), stream seconds. */
  pauses: { start: number; end: number }[];
}

export interface DialogueLabel {
  id: string;
  file: string;
  voice: string;
  pauseHabitS: number;
  durationS: number;
  turns: TurnLabel[];
}

export interface Manifest {
  split: string;
  /** Hash of what made the set (set.ts's definitions and this generator's settings): regenerate when it changes. */
  recipe: string;
  tools: Record<string, string>;
  dialogues: DialogueLabel[];
}

/** Deterministic pseudo-random numbers (mulberry32), so the sets are the same on every machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

const voiceId = (v: Voice) => `${v.synth}-${v.name}`.replace(/[^a-z0-9_-]+/gi, "_");

function run(cmd: string, args: string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT") throw new Error(`${cmd} is not installed: apt-get install flite espeak-ng festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts sox`);
    throw new Error(`${cmd} ${args.join(" ")} failed: ${e.stderr ?? e.message}`);
  }
}

/** The Debian packages that made the set, with their versions. */
function toolVersions(): Record<string, string> {
  const packages = ["flite", "espeak-ng", "festival", "festvox-kallpc16k", "festvox-kdlpc16k", "festvox-us-slt-hts", "sox"];
  const out = run("dpkg-query", ["-W", "-f", "${Package} ${Version}\\n", ...packages]);
  return Object.fromEntries(out.trim().split("\n").map((l) => l.split(" ") as [string, string]));
}

/** Any audio file to 16 kHz mono 16-bit samples, by sox (no dither, so the result is the same every time; errors only). */
function readAs16k(file: string): Int16Array {
  const raw = execFileSync("sox", ["-V1", "-D", file, "-t", "raw", "-r", String(RATE), "-c", "1", "-e", "signed-integer", "-b", "16", "-L", "-"], { maxBuffer: 256 * 1024 * 1024 });
  return new Int16Array(raw.buffer, raw.byteOffset, raw.length >> 1).slice();
}

/** Where the synthesizer paused for each `|`: [start, end] in seconds of its own output. */
type Regions = [number, number][];

function pieces(turn: string): string[] {
  return turn.split("|").map((p) => p.trim());
}

function fliteTurn(voice: string, turn: string, wav: string): Regions {
  const out = run("flite", ["-voice", voice, "-psdur", "-t", pieces(turn).join(", "), "-o", wav]);
  const segs = out
    .trim()
    .split(/\s+/)
    .map((s) => {
      const [name, end] = s.split(":");
      return { name, end: Number(end) };
    });
  const regions: Regions = [];
  for (let i = 1; i < segs.length - 1; i++) if (segs[i].name === "pau") regions.push([segs[i - 1].end, segs[i].end]);
  return regions;
}

function festivalTurn(voice: string, turn: string, wav: string): Regions {
  const text = pieces(turn).join(", ").replace(/["\\]/g, "");
  // A word's token carries its punctuation: the end of a comma token's last word (no word follows it in
  // the token: "hmm" is spelled out as three words) is where the pause goes.
  const script = `(voice_${voice})
(set! u (Utterance Text "${text}"))
(utt.synth u)
(utt.save.wave u "${wav}" 'riff)
(mapcar (lambda (s) (format t "S %s %f\\n" (item.name s) (item.feat s "end"))) (utt.relation.items u 'Segment))
(mapcar (lambda (w) (format t "W %s %f %s\\n" (item.feat w "R:Token.parent.punc") (item.feat w "word_end") (item.feat w "R:Token.n.name"))) (utt.relation.items u 'Word))
`;
  const file = path.join(os.tmpdir(), `turns-${process.pid}.scm`);
  fs.writeFileSync(file, script);
  try {
    const lines = run("festival", ["-b", file]).split("\n");
    const segs = lines.filter((l) => l.startsWith("S ")).map((l) => ({ name: l.split(" ")[1], end: Number(l.split(" ")[2]) }));
    const commas = lines.filter((l) => l.startsWith("W ,") && !/^[a-z']/i.test(l.split(" ")[3])).map((l) => Number(l.split(" ")[2]));
    return commas.map((wordEnd): [number, number] => {
      const next = segs.find((s, i) => i > 0 && segs[i - 1].end >= wordEnd - 1e-4 && s.end > wordEnd + 1e-4);
      return [wordEnd, next?.name === "pau" ? next.end : wordEnd];
    });
  } finally {
    fs.rmSync(file, { force: true });
  }
}

function espeakTurn(voice: string, turn: string, wav: string): Regions {
  const ssml = `<speak>${pieces(turn).join(` <break time="${MARKER_BREAK_MS}ms"/> `)}</speak>`;
  run("espeak-ng", ["-m", "-v", voice, "-w", wav, ssml]);
  // The markers are the only silences this long; found on the 16 kHz conversion below.
  const pcm = readAs16k(wav);
  const frames = frameLevels(pcm);
  const regions: Regions = [];
  let runStart = -1;
  frames.forEach((db, i) => {
    if (db < -60 && runStart < 0) runStart = i;
    if ((db >= -60 || i === frames.length - 1) && runStart >= 0) {
      if ((i - runStart) * 10 >= MARKER_BREAK_MS * 0.8 && runStart > 0 && i < frames.length - 1) regions.push([runStart / 100, i / 100]);
      runStart = -1;
    }
  });
  return regions;
}

/** RMS level (dBFS) of each 10 ms frame. */
function frameLevels(pcm: Int16Array): number[] {
  const n = RATE / 100;
  const out: number[] = [];
  for (let i = 0; i + n <= pcm.length; i += n) {
    let s = 0;
    for (let k = i; k < i + n; k++) s += (pcm[k] / 32768) ** 2;
    out.push(s > 0 ? 10 * Math.log10(s / n) : -120);
  }
  return out;
}

interface SplicedTurn {
  samples: Float32Array;
  /** Seconds within the turn's audio. */
  start: number;
  end: number;
  pauses: { start: number; end: number }[];
}

/** Synthesize a turn and put the wanted pause lengths in place of the synthesizer's own. */
function synthesizeTurn(voice: Voice, turn: string, pausesS: number[], scratch: string): SplicedTurn {
  const wav = path.join(scratch, "turn.wav");
  const regions = voice.synth === "flite" ? fliteTurn(voice.name, turn, wav) : voice.synth === "festival" ? festivalTurn(voice.name, turn, wav) : espeakTurn(voice.name, turn, wav);
  if (regions.length !== pausesS.length) {
    throw new Error(`${voiceId(voice)} put ${regions.length} pauses in "${turn}" where the text marks ${pausesS.length}`);
  }
  const pcm = readAs16k(wav);
  // Level the turn: its loud frames' RMS to SPEECH_DBFS.
  const levels = frameLevels(pcm);
  const peak = Math.max(...levels);
  const loud = levels.filter((l) => l > peak - 30);
  const rmsDb = 10 * Math.log10(loud.reduce((a, l) => a + 10 ** (l / 10), 0) / loud.length);
  const gain = 10 ** ((SPEECH_DBFS - rmsDb) / 20);
  const parts: Float32Array[] = [];
  const pauses: { start: number; end: number }[] = [];
  let from = 0;
  let length = 0;
  regions.forEach(([a, b], i) => {
    const cutA = Math.round(a * RATE);
    const cutB = Math.max(cutA, Math.round(b * RATE));
    parts.push(Float32Array.from(pcm.subarray(from, cutA), (x) => (x / 32768) * gain));
    length += cutA - from;
    const silence = new Float32Array(Math.round(pausesS[i] * RATE));
    pauses.push({ start: length / RATE, end: (length + silence.length) / RATE });
    parts.push(silence);
    length += silence.length;
    from = cutB;
  });
  parts.push(Float32Array.from(pcm.subarray(from), (x) => (x / 32768) * gain));
  const samples = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    samples.set(p, at);
    at += p.length;
  }
  // First and last sound, on the levelled audio.
  const levelled = frameLevels(Int16Array.from(samples, (x) => Math.max(-32768, Math.min(32767, Math.round(x * 32768)))));
  const edge = SPEECH_DBFS - SPEECH_EDGE_BELOW_DB;
  const first = levelled.findIndex((l) => l > edge);
  let last = levelled.length - 1;
  while (last > 0 && levelled[last] <= edge) last--;
  // Every pause must be silence: a wrong cut position would label speech as a pause.
  for (const p of pauses) {
    const inside = levelled.slice(Math.ceil(p.start * 100), Math.floor(p.end * 100));
    if (inside.some((l) => l > edge)) throw new Error(`${voiceId(voice)}: the pause at ${p.start.toFixed(2)} s in "${turn}" is not silent`);
  }
  return { samples, start: first / 100, end: (last + 1) / 100, pauses };
}

export function recipe(): string {
  const generator = fs.readFileSync(__filename, "utf8");
  return crypto.createHash("sha256").update(JSON.stringify(SPLITS)).update(JSON.stringify({ TURNS_PER_DIALOGUE, GAP_AFTER_TURN_S, LEAD_S, NOISE_DBFS, PAUSE_HABITS_S, PAUSE_SIGMA, PAUSE_RANGE_S, MARKER_BREAK_MS, SPEECH_DBFS })).update(generator).digest("hex").slice(0, 16);
}

export function generate(split: keyof typeof SPLITS, dir: string): Manifest {
  const def = SPLITS[split];
  const out = path.join(dir, split);
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "turns-"));
  const dialogues: DialogueLabel[] = [];
  const tools = toolVersions();
  try {
    def.voices.forEach((voice, v) => {
      const rand = prng(0x7475726e + v * 7919 + (split === "fit" ? 0 : 104729));
      // A different order of the sentences for each voice, so dialogues differ.
      const order = def.turns.map((t) => ({ t, k: rand() })).sort((a, b) => a.k - b.k).map((x) => x.t);
      for (let d = 0; d * TURNS_PER_DIALOGUE < order.length; d++) {
        const habit = PAUSE_HABITS_S[(v + d) % PAUSE_HABITS_S.length];
        const parts: Float32Array[] = [new Float32Array(Math.round(LEAD_S * RATE))];
        let length = parts[0].length;
        const turns: TurnLabel[] = [];
        for (const text of order.slice(d * TURNS_PER_DIALOGUE, (d + 1) * TURNS_PER_DIALOGUE)) {
          const pausesS = Array.from({ length: pieces(text).length - 1 }, () => Math.min(PAUSE_RANGE_S[1], Math.max(PAUSE_RANGE_S[0], habit * Math.exp(PAUSE_SIGMA * gaussian(rand)))));
          const t = synthesizeTurn(voice, text, pausesS, scratch);
          const offset = length / RATE;
          turns.push({ text: text.replace(/\s*\|\s*/g, " "), voice: voiceId(voice), start: offset + t.start, end: offset + t.end, pauses: t.pauses.map((p) => ({ start: offset + p.start, end: offset + p.end })) });
          parts.push(t.samples, new Float32Array(Math.round(GAP_AFTER_TURN_S * RATE)));
          length += t.samples.length + Math.round(GAP_AFTER_TURN_S * RATE);
        }
        const noise = prng(0x6e6f6973 + dialogues.length);
        const noiseStd = 10 ** (NOISE_DBFS / 20);
        const pcm = new Int16Array(length);
        let at = 0;
        for (const p of parts) {
          for (let i = 0; i < p.length; i++) pcm[at + i] = Math.max(-32768, Math.min(32767, Math.round((p[i] + noiseStd * gaussian(noise)) * 32768)));
          at += p.length;
        }
        const id = `${voiceId(voice)}-${d + 1}`;
        const file = `${id}.raw`;
        fs.writeFileSync(path.join(out, file), Buffer.from(pcm.buffer));
        dialogues.push({ id, file, voice: voiceId(voice), pauseHabitS: habit, durationS: length / RATE, turns });
      }
    });
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const manifest: Manifest = { split, recipe: recipe(), tools, dialogues };
  fs.writeFileSync(path.join(out, "manifest.json"), JSON.stringify(manifest, null, 1));
  return manifest;
}

/** The split's manifest, made first when missing or made by another recipe. */
export function ensureSplit(split: keyof typeof SPLITS, dir: string): Manifest {
  const file = path.join(dir, split, "manifest.json");
  if (fs.existsSync(file)) {
    const m = JSON.parse(fs.readFileSync(file, "utf8")) as Manifest;
    if (m.recipe === recipe()) return m;
  }
  console.error(`making the ${split} set in ${path.join(dir, split)} ...`);
  return generate(split, dir);
}

export function readDialogue(dir: string, split: string, d: DialogueLabel): Float32Array {
  const buf = fs.readFileSync(path.join(dir, split, d.file));
  const pcm = new Int16Array(buf.buffer, buf.byteOffset, buf.length >> 1);
  return Float32Array.from(pcm, (x) => x / 32768);
}
