/**
 * The one table from client voice names (OpenAI's, Deepgram Aura's) to this deployment's voices, and
 * the one function that resolves a requested voice. The API passes voice names through unchanged;
 * the engines resolve them here, so both sides always agree.
 */
import { EngineInputError } from "./types";

/** Flite's built-in voices (kal is 8 kHz and is upsampled to the engine's 16 kHz). */
export const FLITE_VOICES = ["slt", "rms", "awb", "kal16", "kal"] as const;
export type FliteVoice = (typeof FLITE_VOICES)[number];

/**
 * Client voice names → Flite voice, chosen by the voice's published character (female voices → slt;
 * deeper male voices → rms; others → awb or kal16). Models without Flite voices use their default voice
 * for every alias.
 */
export const VOICE_ALIASES: Readonly<Record<string, FliteVoice>> = {
  // OpenAI
  alloy: "slt",
  ash: "rms",
  ballad: "awb",
  coral: "slt",
  echo: "kal16",
  fable: "awb",
  nova: "slt",
  onyx: "rms",
  sage: "slt",
  shimmer: "slt",
  verse: "kal16",
  // Deepgram Aura (the voice part of aura-<name>-en and aura-2-<name>-en)
  asteria: "slt",
  luna: "slt",
  stella: "slt",
  athena: "slt",
  hera: "slt",
  thalia: "slt",
  orion: "rms",
  arcas: "kal16",
  perseus: "rms",
  angus: "awb",
  orpheus: "kal16",
  helios: "awb",
  zeus: "rms",
};

/** aura-asteria-en / aura-2-thalia-en → "asteria" / "thalia"; undefined when not an Aura name. */
function auraVoicePart(name: string): string | undefined {
  if (!name.startsWith("aura-")) return undefined;
  return name.replace(/^aura-(?:2-)?/, "").replace(/-[a-z]{2}$/, "");
}

/**
 * Resolve a requested voice against a model's voices: its own voice names first, then client aliases
 * (mapped through the Flite table when the model has Flite voices, else to the model's default voice).
 * Any Aura name is accepted, since Deepgram clients put the voice in the model name. Unknown → 400.
 */
export function resolveVoice(requested: string | undefined, modelVoices: readonly string[], defaultVoice: string): string {
  if (requested === undefined || requested === "") return defaultVoice;
  const name = requested.trim().toLowerCase();
  const own = modelVoices.find((v) => v.toLowerCase() === name);
  if (own !== undefined) return own;
  const aura = auraVoicePart(name);
  const alias = VOICE_ALIASES[aura ?? name];
  if (alias !== undefined) return modelVoices.includes(alias) ? alias : defaultVoice;
  if (aura !== undefined || name === "aura") return defaultVoice;
  throw new EngineInputError(
    `unknown voice "${requested.slice(0, 64)}"; known voices: ${[...modelVoices, ...Object.keys(VOICE_ALIASES)].join(", ")}`,
  );
}
