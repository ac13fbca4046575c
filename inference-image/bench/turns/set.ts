/**
 * The turn-taking sets: what each dialogue says and which synthetic voice says it. `|` marks a pause in the
 * middle of a turn (a hesitation, a list, a number being dictated). The FIT set and the HELD-OUT set share
 * no sentence and no speaker (Flite's slt and Festival's HTS slt are one speaker, as are kal16 and
 * kal_diphone: each pair stays on one side).
 */

export type Synth = "flite" | "espeak-ng" | "festival";

export interface Voice {
  synth: Synth;
  /** flite -voice, espeak-ng -v, or a Festival voice procedure's name without "voice_". */
  name: string;
}

export interface SplitDefinition {
  voices: Voice[];
  turns: string[];
}

const FIT_TURNS = [
  "I want to | um | book a table for two.",
  "my number is five five five | one two three | four five six seven.",
  "I need eggs | milk | and | some bread.",
  "can you send it to | uh | my office address.",
  "yes.",
  "no thanks.",
  "I would like to fly from | Boston | to | Denver on Friday.",
  "the account number is | four two | seven seven | nine.",
  "that sounds good.",
  "so | the problem is that | the screen keeps going black.",
  "let me think | hmm | maybe next Tuesday.",
  "I was calling about my | my bill from last month.",
  "please cancel the order.",
  "we are looking for a hotel | near the | train station.",
  "could you | repeat that please.",
  "it is for | three adults and | two children.",
  "I live at | twenty two | oak street.",
  "okay | let me check.",
  "the code is | alpha | bravo | seven.",
  "I think the best time would be | in the | afternoon.",
  "my name is | John | Smith.",
  "what time do you close?",
  "I have a question about | the | delivery.",
  "send me the | um | the receipt by email.",
  "I paid with my card | but | it was declined.",
  "two large pizzas | and a salad.",
  "because | I was not at home.",
  "thank you very much.",
  "it started on | Monday | or maybe | Sunday.",
  "I would rather | not say.",
];

const HELD_OUT_TURNS = [
  "I'd like to | er | change my reservation.",
  "call me back at | eight zero zero | five five five | two one two one.",
  "we need apples | bananas | and | a bag of rice.",
  "the flight leaves at | uh | seven in the morning.",
  "sure.",
  "not right now.",
  "I am traveling with | my wife and | our two kids.",
  "my card ends in | three | nine | one | four.",
  "that works for me.",
  "well | the thing is | my internet stopped working.",
  "give me a second | um | I think it was Thursday.",
  "I ordered the | the blue one.",
  "please stop the payment.",
  "is there a pharmacy | close to | the hospital?",
  "can you | say that again.",
  "a room for | two nights and | breakfast.",
  "the address is | forty one | maple avenue.",
  "alright | go ahead.",
  "my zip code is | nine four | one zero | three.",
  "I would prefer | the | morning.",
  "it is under | Maria | Lopez.",
  "how much does it cost?",
  "I want to talk about | my | insurance claim.",
  "check the | um | the second invoice.",
  "I tried to log in | but | the password was wrong.",
  "one coffee | and two croissants.",
  "since | nobody answered the phone.",
  "that is all thanks.",
  "it happened last | Friday | or | Saturday.",
  "I will | think about it.",
];

const voice = (synth: Synth, name: string): Voice => ({ synth, name });

export const SPLITS: Record<"fit" | "held-out", SplitDefinition> = {
  fit: {
    voices: [voice("flite", "slt"), voice("flite", "kal16"), voice("festival", "cmu_us_slt_arctic_hts"), voice("festival", "kal_diphone"), voice("espeak-ng", "en-us")],
    turns: FIT_TURNS,
  },
  "held-out": {
    voices: [voice("flite", "awb"), voice("flite", "rms"), voice("festival", "ked_diphone"), voice("espeak-ng", "en-gb-x-rp"), voice("espeak-ng", "en-us+f3")],
    turns: HELD_OUT_TURNS,
  },
};

/** Turns per dialogue (one stream, one speaker): the detector learns a speaker's pauses within a stream. */
export const TURNS_PER_DIALOGUE = 5;
/** Silence after each finished turn: longer than eot_timeout_ms's default (5 s), so every turn can end. */
export const GAP_AFTER_TURN_S = 6;
/** Silence before the first turn. */
export const LEAD_S = 0.5;
/**
 * Each dialogue's speaker has a pause habit: the median of their pauses inside a turn, one of these
 * (seconds); each pause is that times a log-normal factor (sigma 0.35), kept within [0.25, 2.2] s.
 */
export const PAUSE_HABITS_S = [0.45, 0.7, 1.0];
export const PAUSE_SIGMA = 0.35;
export const PAUSE_RANGE_S: [number, number] = [0.25, 2.2];
/** The noise floor mixed into every dialogue: white noise at this RMS level (dBFS), so pauses are not digital silence. */
export const NOISE_DBFS = -60;
