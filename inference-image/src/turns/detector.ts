/**
 * End-of-turn confidence for one speaker's stream, from cues a listener uses: whether the words so far
 * sound finished (lexical.ts), whether the voice fell at the end (pitch and level over the last ~300 ms of
 * speech), how many words the turn has, and how long the pause is against this speaker's own pauses
 * inside turns. The VAD says where speech stops; frame levels date the stop back to the last loud frame,
 * since the VAD decides ~0.1-0.15 s after the voice actually ends.
 *
 * Two parts make the confidence. At a pause's start, a logistic model of the cues gives the odds that the
 * turn is over. As the pause goes on, a pause inside a turn becomes ever less likely: this speaker's pauses
 * are taken to be log-normal around their median, so the odds grow by 1 / P(a pause inside a turn lasts this
 * long). A turn that sounds unfinished therefore still ends once the pause is long for this speaker. The
 * weights and the spread were fitted offline (bench/turns/fit.ts) and live in eot-model.json with how they were made.
 */
import type { FrameAcoustics } from "./prosody";
import { lexicalCues } from "./lexical";
import fitted from "./eot-model.json";

/** The cue model's inputs, in this order. */
export const FEATURES = ["continuation", "filler", "numberIncomplete", "pitchSlope", "pitchEnd", "energyEnd", "logWords"] as const;
export type FeatureName = (typeof FEATURES)[number];

export interface EotModel {
  features: readonly string[];
  /** Standardization applied before the weights: (x - mean) / scale. */
  mean: number[];
  scale: number[];
  weights: number[];
  bias: number;
  /** Spread (sigma of the log) of a speaker's pauses inside turns around their median. */
  pauseSigma: number;
}

/** What the detector knows at a moment of a pause: the cues, how long the pause is, and the speaker's usual pause. */
export interface PauseState {
  cues: Record<FeatureName, number>;
  pauseS: number;
  typicalPauseS: number;
}

/** Speech over this much before a pause carries the end-of-utterance prosody. */
const TAIL_S = 0.3;
/** How far back a pause's start may be dated from where the VAD put it. */
const BACKDATE_S = 0.3;
/** A frame this far below the turn's median speech level counts as quiet (the voice has stopped). */
const QUIET_BELOW_SPEECH_DB = 25;
/** ...and it must be this far above the noise floor to count as loud at all. */
const LOUD_ABOVE_NOISE_DB = 10;
/** Before a speaker has paused inside a turn, their typical pause is taken to be this (seconds)... */
const PRIOR_PAUSE_S = 0.6;
/** ...with the weight of this many observed pauses. */
const PRIOR_WEIGHT = 2;
/** Quiet this long after a loud sound in a pause, with no speech from the VAD: the sound was not the voice coming back. */
const CLICK_QUIET_S = 0.3;
/** Speech this soon after a turn's end goes on with that turn (see continuesEndedTurn). */
export const CONTINUATION_GAP_S = 1;
/** Pauses remembered per speaker. */
const PAUSE_MEMORY = 20;
/** Turns keep this many frames of statistics (about 30 s at 32 ms): bounded memory in long monologues. */
const MAX_TURN_FRAMES = 1000;
/** The noise floor is this percentile of the frame levels over the last NOISE_WINDOW_S. */
const NOISE_PERCENTILE = 0.1;
const NOISE_WINDOW_S = 5;

const semitones = (f0: number) => 12 * Math.log2(f0 / 100);

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The complementary error function (Numerical Recipes' erfcc, fractional error below 1.2e-7). */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + z / 2);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

/** P(a log-normal pause with this median and spread lasts longer than t). */
function pauseSurvival(t: number, median: number, sigma: number): number {
  return erfc((Math.log(Math.max(t, 1e-3)) - Math.log(median)) / (sigma * Math.SQRT2)) / 2;
}

/** The cue model's log-odds that the turn is over, at the pause's start; an unmeasured cue (NaN) counts as average. */
export function cueLogOdds(model: EotModel, cues: Record<FeatureName, number>): number {
  let z = model.bias;
  FEATURES.forEach((name, i) => {
    const x = cues[name];
    if (!Number.isNaN(x)) z += (model.weights[i] * (x - model.mean[i])) / model.scale[i];
  });
  return z;
}

/** Confidence that the turn is over: the cues' odds, divided by the chance that a pause inside a turn lasts this long. */
export function eotConfidence(model: EotModel, p: PauseState): number {
  const survival = Math.max(1e-12, pauseSurvival(p.pauseS, p.typicalPauseS, model.pauseSigma));
  return 1 / (1 + Math.exp(-(cueLogOdds(model, p.cues) - Math.log(survival))));
}

/** Least-squares slope of y over x; NaN with fewer than three points. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 3) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den > 0 ? num / den : NaN;
}

const clip = (x: number, lo: number, hi: number) => (Number.isNaN(x) ? x : Math.min(hi, Math.max(lo, x)));

interface Frame extends FrameAcoustics {
  /** Stream time (s) at the frame's end. */
  end: number;
  speech: boolean;
}

/** Prosody of the speech just before a pause; NaN where it could not be measured (too few voiced frames). */
interface PauseProsody {
  pitchSlope: number;
  pitchEnd: number;
  energyEnd: number;
}

export function loadModel(model: EotModel = fitted as EotModel): EotModel {
  const ok =
    model.features.length === FEATURES.length &&
    model.features.every((f, i) => f === FEATURES[i]) &&
    [model.mean, model.scale, model.weights].every((v) => v.length === FEATURES.length && v.every(Number.isFinite)) &&
    Number.isFinite(model.bias) &&
    Number.isFinite(model.pauseSigma) &&
    model.pauseSigma > 0;
  if (!ok) throw new Error(`the end-of-turn model must have the features ${FEATURES.join(", ")} with finite mean, scale and weights for each, and a positive pauseSigma`);
  return model;
}

export class EndOfTurnDetector {
  private readonly model: EotModel;
  private readonly recent: Frame[] = [];
  private readonly recentMax: number;
  /** This turn's loud speech frames' levels and voiced frames' pitch (semitones), for its medians. */
  private turnLevels: number[] = [];
  private turnPitch: number[] = [];
  /** When the last turn was ended (stream s), until the next one starts. */
  private endedAt: number | undefined;
  private continuing = false;
  /** Frame levels over the last NOISE_WINDOW_S, and the noise floor taken from them. */
  private readonly levels: number[] = [];
  private readonly levelsMax: number;
  private noiseDb = -Infinity;
  private now = 0;
  private wasSpeech = false;
  /** Start (stream s) of the pause in progress; undefined while speaking or before any speech. */
  private pauseStart: number | undefined;
  private prosody: PauseProsody = { pitchSlope: NaN, pitchEnd: NaN, energyEnd: NaN };
  /**
   * Start (stream s) of speech-loud audio during the pause: the speaker is probably resuming, which the VAD
   * confirms only after its minimum speech duration. Undefined when there is none, or it was a click.
   */
  private resumedAt: number | undefined;
  /** Quiet since the last loud frame of that resumption (seconds). */
  private quietSinceResume = 0;
  /** This speaker's pauses inside turns (seconds), most recent last. */
  private readonly ownPauses: number[] = [];

  constructor(
    private readonly frameS: number,
    model?: EotModel,
  ) {
    this.model = loadModel(model);
    this.recentMax = Math.ceil((TAIL_S + BACKDATE_S) / frameS) + 2;
    this.levelsMax = Math.ceil(NOISE_WINDOW_S / frameS);
  }

  /** Feed one frame: its acoustics and whether the VAD hears speech in it. */
  frame(acoustics: FrameAcoustics, speech: boolean): void {
    this.now += this.frameS;
    this.trackNoise(acoustics.energyDb);
    const frame: Frame = { ...acoustics, end: this.now, speech };
    this.recent.push(frame);
    if (this.recent.length > this.recentMax) this.recent.shift();
    if (speech) {
      if (this.endedAt !== undefined) this.startTurn();
      // The pause lasted until the voice came back, not until the VAD was sure of it.
      if (this.pauseStart !== undefined) this.rememberPause((this.resumedAt ?? this.now - this.frameS) - this.pauseStart);
      this.pauseStart = undefined;
      this.resumedAt = undefined;
      if (this.loud(frame)) this.addToTurn(frame);
    } else if (this.wasSpeech) {
      this.startPause();
    } else if (this.pauseStart !== undefined) {
      this.trackResumption(frame);
    }
    this.wasSpeech = speech;
  }

  /** Seconds since the voice stopped; 0 while speaking or before any speech. */
  get pauseS(): number {
    return this.pauseStart === undefined ? 0 : this.now - this.pauseStart;
  }

  /** Stream time (s) at which the pause in progress began. */
  get pauseStartedAt(): number | undefined {
    return this.pauseStart;
  }

  /** The cues and the pause now, given the words recognized so far; undefined while speaking. */
  pause(hypothesis: string): PauseState | undefined {
    if (this.pauseStart === undefined || this.resumedAt !== undefined) return undefined;
    const lex = lexicalCues(hypothesis);
    return {
      cues: {
        continuation: Number(lex.continuation),
        filler: Number(lex.filler),
        numberIncomplete: Number(lex.numberIncomplete),
        pitchSlope: this.prosody.pitchSlope,
        pitchEnd: this.prosody.pitchEnd,
        energyEnd: this.prosody.energyEnd,
        logWords: Math.log(1 + lex.words),
      },
      pauseS: this.now - this.pauseStart,
      typicalPauseS: this.typicalPause(),
    };
  }

  /** Confidence in [0, 1] that the turn is over; 0 while the speaker is talking. */
  confidence(hypothesis: string): number {
    const p = this.pause(hypothesis);
    return p ? this.score(p) : 0;
  }

  /** This detector's model applied to a pause state. */
  score(p: PauseState): number {
    return eotConfidence(this.model, p);
  }

  /**
   * Whether the turn in progress goes on with the one ended before it: its speech started within
   * CONTINUATION_GAP_S of that end (which came too early), so the ended turn's words and statistics still count.
   */
  get continuesEndedTurn(): boolean {
    return this.continuing;
  }

  /**
   * The turn was ended: its statistics are forgotten when the next one starts, unless that one continues
   * it (continuesEndedTurn); the speaker's pause habits and the noise floor stay.
   */
  endTurn(): void {
    this.endedAt = this.now;
    this.pauseStart = undefined;
    this.resumedAt = undefined;
    this.prosody = { pitchSlope: NaN, pitchEnd: NaN, energyEnd: NaN };
  }

  /** The first speech after a turn's end: a new turn, or the ended one going on. */
  private startTurn(): void {
    this.continuing = this.now - this.endedAt! <= CONTINUATION_GAP_S;
    if (!this.continuing) {
      this.turnLevels = [];
      this.turnPitch = [];
    }
    this.endedAt = undefined;
  }

  private trackNoise(levelDb: number): void {
    this.levels.push(levelDb);
    if (this.levels.length > this.levelsMax) this.levels.shift();
    const sorted = [...this.levels].sort((a, b) => a - b);
    this.noiseDb = sorted[Math.floor(NOISE_PERCENTILE * (sorted.length - 1))];
  }

  private loud(frame: FrameAcoustics): boolean {
    return frame.energyDb > this.noiseDb + LOUD_ABOVE_NOISE_DB;
  }

  private speechLevel(): number {
    const m = median(this.turnLevels);
    return Number.isNaN(m) ? Infinity : m;
  }

  private addToTurn(frame: Frame): void {
    this.turnLevels.push(frame.energyDb);
    if (frame.f0 > 0) this.turnPitch.push(semitones(frame.f0));
    if (this.turnLevels.length > MAX_TURN_FRAMES) this.turnLevels.shift();
    if (this.turnPitch.length > MAX_TURN_FRAMES) this.turnPitch.shift();
  }

  /**
   * The VAD just declared a pause: date its start back to the end of the last frame loud enough to be
   * speech, and measure the prosody of the speech before it.
   */
  private startPause(): void {
    const quiet = this.speechLevel() - QUIET_BELOW_SPEECH_DB;
    const earliest = this.now - BACKDATE_S;
    let start = this.now - this.frameS;
    for (let i = this.recent.length - 2; i >= 0; i--) {
      const f = this.recent[i];
      if (f.end < earliest) break;
      if (this.loud(f) && f.energyDb > quiet) break;
      start = f.end - this.frameS;
    }
    this.pauseStart = start;
    const tail = this.recent.filter((f) => f.end <= start + 1e-9 && f.end > start - TAIL_S);
    const voiced = tail.filter((f) => f.f0 > 0);
    const turnPitch = median(this.turnPitch);
    const lastVoiced = voiced.slice(-3).map((f) => semitones(f.f0));
    const loudTail = tail.filter((f) => this.loud(f));
    this.prosody = {
      // Semitones per 100 ms over the tail.
      pitchSlope: clip(
        slope(
          voiced.map((f) => f.end),
          voiced.map((f) => semitones(f.f0)),
        ) / 10,
        -5,
        5,
      ),
      pitchEnd: clip(lastVoiced.length > 0 ? lastVoiced.reduce((a, b) => a + b, 0) / lastVoiced.length - turnPitch : NaN, -12, 12),
      energyEnd: clip(loudTail.length > 0 ? loudTail.reduce((a, f) => a + f.energyDb, 0) / loudTail.length - this.speechLevel() : NaN, -30, 10),
    };
    this.resumedAt = undefined;
  }

  /**
   * Speech-loud audio in a pause holds the decision until the VAD says whether the voice is back; quiet for
   * CLICK_QUIET_S after it (the VAD never confirmed) means it was a click or a breath, and the pause goes on.
   * Between syllables of resumed speech (a stop, an /f/) the level dips for less than that.
   */
  private trackResumption(frame: Frame): void {
    if (this.loud(frame) && frame.energyDb > this.speechLevel() - QUIET_BELOW_SPEECH_DB) {
      this.resumedAt ??= frame.end - this.frameS;
      this.quietSinceResume = 0;
    } else if (this.resumedAt !== undefined) {
      this.quietSinceResume += this.frameS;
      if (this.quietSinceResume >= CLICK_QUIET_S) this.resumedAt = undefined;
    }
  }

  private rememberPause(seconds: number): void {
    this.ownPauses.push(seconds);
    if (this.ownPauses.length > PAUSE_MEMORY) this.ownPauses.shift();
  }

  private typicalPause(): number {
    return median([...Array<number>(PRIOR_WEIGHT).fill(PRIOR_PAUSE_S), ...this.ownPauses]);
  }
}
