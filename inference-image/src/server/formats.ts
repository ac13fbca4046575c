/** Transcript renderings for both API families (OpenAI json/text/verbose_json/srt/vtt; Deepgram results). */
import { createHash } from "node:crypto";
import type { ModelInfo, Transcript, Word } from "../engines/types";

export interface Segment {
  id: number;
  start: number;
  end: number;
  text: string;
}

/** A pause this long between words starts a new subtitle/segment. */
const SEGMENT_GAP_S = 0.6;
const SEGMENT_MAX_WORDS = 16;

export function segments(t: Transcript): Segment[] {
  if (t.words.length === 0) return t.text ? [{ id: 0, start: 0, end: t.durationS, text: t.text }] : [];
  const out: Segment[] = [];
  let current: Word[] = [];
  const close = () => {
    if (current.length === 0) return;
    out.push({ id: out.length, start: current[0].start, end: current[current.length - 1].end, text: current.map((w) => w.word).join(" ") });
    current = [];
  };
  for (const w of t.words) {
    const prev = current[current.length - 1];
    if (prev && (w.start - prev.end >= SEGMENT_GAP_S || current.length >= SEGMENT_MAX_WORDS)) close();
    current.push(w);
  }
  close();
  return out;
}

function clock(seconds: number, sep: "," | "."): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(h)}:${pad(m)}:${pad(s)}${sep}${pad(ms % 1000, 3)}`;
}

export function toSrt(t: Transcript): string {
  return segments(t)
    .map((s, i) => `${i + 1}\n${clock(s.start, ",")} --> ${clock(s.end, ",")}\n${s.text}\n`)
    .join("\n");
}

export function toVtt(t: Transcript): string {
  return ["WEBVTT\n", ...segments(t).map((s) => `${clock(s.start, ".")} --> ${clock(s.end, ".")}\n${s.text}\n`)].join("\n");
}

const LANGUAGE_NAMES: Record<string, string> = { en: "english", de: "german", fr: "french", es: "spanish", it: "italian", zh: "chinese" };

/** OpenAI's verbose_json: full language name, segments, and words when asked for. */
export function toVerboseJson(t: Transcript, withWords: boolean, withSegments: boolean): Record<string, unknown> {
  const base = t.language.split("-")[0].toLowerCase();
  return {
    task: "transcribe",
    language: LANGUAGE_NAMES[base] ?? t.language,
    duration: round(t.durationS),
    text: t.text,
    ...(withSegments
      ? {
          segments: segments(t).map((s) => ({
            id: s.id,
            seek: 0,
            start: round(s.start),
            end: round(s.end),
            text: s.text,
            tokens: [],
            avg_logprob: round(Math.log(Math.max(t.confidence, 1e-6))),
          })),
        }
      : {}),
    ...(withWords ? { words: t.words.map((w) => ({ word: w.word, start: round(w.start), end: round(w.end) })) } : {}),
  };
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** A stable UUID-shaped id per model (Deepgram responses key model_info by model UUID). */
export function modelUuid(model: ModelInfo): string {
  const h = createHash("sha256").update(`${model.engine}/${model.id}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function deepgramModelInfo(model: ModelInfo): { name: string; version: string; arch: string } {
  return { name: model.id, version: "1", arch: model.engine };
}

function deepgramWords(words: Word[]): Record<string, unknown>[] {
  return words.map((w) => ({ word: w.word, start: round(w.start), end: round(w.end), confidence: round(w.confidence), punctuated_word: w.word }));
}

export function deepgramAlternative(t: Transcript): Record<string, unknown> {
  return { transcript: t.text, confidence: round(t.confidence), words: deepgramWords(t.words) };
}

export interface DeepgramWarning {
  parameter: string;
  type: string;
  message: string;
}

/** Deepgram's pre-recorded response. */
export function deepgramResponse(args: {
  t: Transcript;
  model: ModelInfo;
  requestId: string;
  sha256: string;
  channels: number;
  warnings: DeepgramWarning[];
}): Record<string, unknown> {
  const uuid = modelUuid(args.model);
  return {
    metadata: {
      transaction_key: "deprecated",
      request_id: args.requestId,
      sha256: args.sha256,
      created: new Date().toISOString(),
      duration: round(args.t.durationS),
      channels: args.channels,
      models: [uuid],
      model_info: { [uuid]: deepgramModelInfo(args.model) },
      ...(args.warnings.length > 0 ? { warnings: args.warnings } : {}),
    },
    results: { channels: [{ alternatives: [deepgramAlternative(args.t)], detected_language: args.t.language }] },
  };
}
