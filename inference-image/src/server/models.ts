/**
 * The one table from client model names to this deployment's models. Clients keep their usual names
 * (OpenAI's whisper-1/tts-1, Deepgram's nova-3/aura-*) and get the deployment's default STT/TTS model.
 */
import type { ModelInfo, Speech } from "../engines/types";
import { HttpError } from "../shared/http";

interface Alias {
  /** Exact name, or a prefix family when `prefix` is set. */
  name: string;
  kind: "stt" | "tts";
  prefix?: boolean;
  owner: "openai" | "deepgram";
}

const MODEL_ALIASES: readonly Alias[] = [
  { name: "whisper-1", kind: "stt", owner: "openai" },
  { name: "gpt-4o-transcribe", kind: "stt", owner: "openai" },
  { name: "gpt-4o-mini-transcribe", kind: "stt", owner: "openai" },
  { name: "nova-2", kind: "stt", owner: "deepgram" },
  { name: "nova-3", kind: "stt", owner: "deepgram" },
  // Deepgram's dated and domain variants: nova-2-general, nova-3-medical, ...
  { name: "nova", kind: "stt", prefix: true, owner: "deepgram" },
  { name: "tts-1", kind: "tts", owner: "openai" },
  { name: "tts-1-hd", kind: "tts", owner: "openai" },
  { name: "gpt-4o-mini-tts", kind: "tts", owner: "openai" },
  // aura-asteria-en, aura-2-thalia-en, ...: the voice part maps to the default voice.
  { name: "aura", kind: "tts", prefix: true, owner: "deepgram" },
];

function matches(alias: Alias, name: string): boolean {
  return alias.prefix ? name === alias.name || name.startsWith(alias.name + "-") : name === alias.name;
}

export function knownModelNames(speech: Speech, kind: "stt" | "tts"): string[] {
  const own = kind === "stt" ? speech.stt.id : speech.tts.id;
  return [own, ...MODEL_ALIASES.filter((a) => a.kind === kind).map((a) => (a.prefix ? `${a.name}*` : a.name))];
}

/** Map a client's model name (or none: the default) to the deployment's model; unknown names are a 400. */
export function resolveModel(speech: Speech, kind: "stt" | "tts", name: string | undefined): ModelInfo {
  const model = kind === "stt" ? speech.stt : speech.tts;
  if (name === undefined || name === "" || name === model.id) return model;
  if (MODEL_ALIASES.some((a) => a.kind === kind && matches(a, name))) return model;
  throw new HttpError(
    400,
    "model_not_found",
    `unknown ${kind === "stt" ? "transcription" : "speech"} model "${name.slice(0, 128)}"; known models: ${knownModelNames(speech, kind).join(", ")}`,
  );
}

/** `GET /v1/models` in OpenAI's list shape, with what each name maps to. */
export function modelList(speech: Speech, created: number): Record<string, unknown> {
  const own = (m: ModelInfo) => ({
    id: m.id,
    object: "model",
    created,
    owned_by: "voice-selfhost",
    kind: m.kind,
    engine: m.engine,
    provider: m.provider,
    sample_rate: m.sampleRate,
    languages: m.languages,
    ...(m.voices ? { voices: m.voices } : {}),
  });
  const aliases = MODEL_ALIASES.filter((a) => !a.prefix).map((a) => ({
    id: a.name,
    object: "model",
    created,
    owned_by: "voice-selfhost",
    kind: a.kind,
    alias_of: a.kind === "stt" ? speech.stt.id : speech.tts.id,
  }));
  return { object: "list", data: [own(speech.stt), own(speech.tts), ...aliases] };
}
