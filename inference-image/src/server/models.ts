/**
 * The one table from client model names to this deployment's models. Clients keep the names their SDKs
 * send by default (OpenAI's whisper-1, gpt-4o-transcribe, gpt-realtime-whisper, tts-1; Deepgram's nova-3,
 * aura-*) and get the deployment's STT or TTS model. MODEL_ALIASES (config.ts) adds names, changes one's
 * kind, or refuses one; any other name is a 400 that lists the names served.
 */
import type { ModelInfo, Speech } from "../engines/types";
import { HttpError } from "../shared/http";

export type ModelKind = "stt" | "tts";

export interface Alias {
  /** Exact name, or a family (the name itself and name-<anything>) when `prefix` is set. */
  name: string;
  kind: ModelKind;
  prefix?: boolean;
}

/**
 * The names current clients send when they set nothing else. OpenAI's dated snapshots
 * (gpt-4o-mini-transcribe-2025-12-15, ...) are families; LiveKit's OpenAI STT plugin sends
 * gpt-realtime-whisper or gpt-live-transcribe over the Realtime API.
 */
export const DEFAULT_MODEL_ALIASES: readonly Alias[] = [
  { name: "whisper-1", kind: "stt" },
  { name: "gpt-4o-transcribe", kind: "stt", prefix: true },
  { name: "gpt-4o-mini-transcribe", kind: "stt", prefix: true },
  { name: "gpt-realtime-whisper", kind: "stt", prefix: true },
  { name: "gpt-live-transcribe", kind: "stt", prefix: true },
  { name: "nova-2", kind: "stt" },
  { name: "nova-3", kind: "stt" },
  // Deepgram's dated and domain variants: nova-2-general, nova-3-medical, ...
  { name: "nova", kind: "stt", prefix: true },
  // Deepgram's Flux turn-taking model names (flux-general-en).
  { name: "flux", kind: "stt", prefix: true },
  { name: "tts-1", kind: "tts", prefix: true },
  { name: "gpt-4o-mini-tts", kind: "tts", prefix: true },
  // aura-asteria-en, aura-2-thalia-en, ...: the voice part maps to the default voice.
  { name: "aura", kind: "tts", prefix: true },
];

const ENTRY = /^([A-Za-z0-9][A-Za-z0-9._:-]{0,127})(\*?)=(stt|tts|none)$/;

/**
 * MODEL_ALIASES: comma-separated `name=stt`, `name=tts` (add a name, or change a default's kind), `name*=...`
 * (a family: the name and name-<anything>) or `name=none` (refuse a default name). Applied over the defaults.
 */
export function modelAliases(setting: string | undefined): Alias[] {
  const table = new Map(DEFAULT_MODEL_ALIASES.map((a) => [a.name, a]));
  const entries = (setting ?? "").split(",").map((e) => e.trim()).filter(Boolean);
  for (const entry of entries) {
    const m = ENTRY.exec(entry);
    if (!m) throw new Error(`entry "${entry.slice(0, 64)}" must be name=stt, name=tts or name=none (name*=... for a family: the name and name-<anything>)`);
    const [, name, star, kind] = m;
    if (kind === "none") table.delete(name);
    else table.set(name, { name, kind: kind as ModelKind, ...(star ? { prefix: true } : {}) });
  }
  return [...table.values()];
}

/** What model resolution needs: the deployment's models and the alias table (config.MODEL_ALIASES). */
export interface ModelCatalog {
  speech: Speech;
  config: { MODEL_ALIASES: readonly Alias[] };
}

function matches(alias: Alias, name: string): boolean {
  return alias.prefix ? name === alias.name || name.startsWith(alias.name + "-") : name === alias.name;
}

const modelOf = (speech: Speech, kind: ModelKind) => (kind === "stt" ? speech.stt : speech.tts);

export function knownModelNames({ speech, config }: ModelCatalog, kind: ModelKind): string[] {
  return [modelOf(speech, kind).id, ...config.MODEL_ALIASES.filter((a) => a.kind === kind).map((a) => (a.prefix ? `${a.name}*` : a.name))];
}

/** Map a client's model name (or none: the default) to the deployment's model; unknown names are a 400. */
export function resolveModel(catalog: ModelCatalog, kind: ModelKind, name: string | undefined): ModelInfo {
  const model = modelOf(catalog.speech, kind);
  if (name === undefined || name === "" || name === model.id) return model;
  if (catalog.config.MODEL_ALIASES.some((a) => a.kind === kind && matches(a, name))) return model;
  throw new HttpError(
    400,
    "model_not_found",
    `unknown ${kind === "stt" ? "transcription" : "speech"} model "${name.slice(0, 128)}"; known models: ${knownModelNames(catalog, kind).join(", ")}`,
  );
}

/** `GET /v1/models` in OpenAI's list shape, with what each name maps to. */
export function modelList({ speech, config }: ModelCatalog, created: number): Record<string, unknown> {
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
  const aliases = config.MODEL_ALIASES.map((a) => ({
    id: a.name,
    object: "model",
    created,
    owned_by: "voice-selfhost",
    kind: a.kind,
    alias_of: a.kind === "stt" ? speech.stt.id : speech.tts.id,
    // A family also answers to name-<anything> (dated snapshots, Aura voices).
    ...(a.prefix ? { family: true } : {}),
  }));
  return { object: "list", data: [own(speech.stt), own(speech.tts), ...aliases] };
}
