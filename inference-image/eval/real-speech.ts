/**
 * The real-speech set (real-speech/manifest.json, README.md there): recordings of real people with their
 * published transcripts, each as a 16 kHz FLAC and an 8 kHz mu-law WAV. Loaded with the server's own decoders.
 */
import fs from "node:fs";
import path from "node:path";
import { inspectAudio, monoChunks } from "../src/audio/upload";
import { concatSamples } from "../src/shared/samples";

/** The set's folder beside this file, also when this file runs compiled from dist/_eval/eval/. */
export const REAL_SPEECH_DIR = [path.join(__dirname, "real-speech"), path.resolve(__dirname, "../../../eval/real-speech")].find((d) => fs.existsSync(path.join(d, "manifest.json"))) ?? path.join(__dirname, "real-speech");

interface ManifestClip {
  id: string;
  source: string;
  speaker: string;
  reference: string;
}

interface Manifest {
  sources: Record<string, { licence: string }>;
  /** Domain terms the pocketsphinx dictionary lacks, spoken in some clips (the custom-vocabulary measurement). */
  keyterms: string[];
  clips: ManifestClip[];
}

export interface Clip extends ManifestClip {
  licence: string;
  /** The 16 kHz FLAC file as stored. */
  wideband: Buffer;
  /** Its samples, mono float at 16 kHz. */
  samples: Float32Array;
  /** The 8 kHz mu-law WAV file as stored. */
  telephony: Buffer;
  /** Its mu-law bytes (no header), as a telephony stream carries them. */
  mulaw: Buffer;
  durationS: number;
}

export interface RealSpeechSet {
  keyterms: string[];
  clips: Clip[];
}

function readManifest(dir: string): Manifest {
  const file = path.join(dir, "manifest.json");
  const m = JSON.parse(fs.readFileSync(file, "utf8")) as Manifest;
  if (!Array.isArray(m.clips) || m.clips.length === 0) throw new Error(`${file}: "clips" must list the clips`);
  return m;
}

async function decodeWideband(file: string, buf: Buffer): Promise<Float32Array> {
  const chunks: Float32Array[] = [];
  for await (const c of monoChunks(inspectAudio(buf))) {
    if (c.sampleRate !== 16000) throw new Error(`${file}: expected 16 kHz audio, got ${c.sampleRate} Hz`);
    chunks.push(c.samples);
  }
  return concatSamples(chunks);
}

function mulawPayload(file: string, buf: Buffer): Buffer {
  const audio = inspectAudio(buf);
  if (audio.kind !== "pcm" || audio.format.kind !== "mulaw" || audio.sampleRate !== 8000) throw new Error(`${file}: expected an 8 kHz mu-law WAV`);
  return audio.data;
}

/** Every clip of the set (or those whose id starts with one of `only`), decoded. */
export async function loadRealSpeechSet(options: { dir?: string; only?: string[] } = {}): Promise<RealSpeechSet> {
  const dir = options.dir ?? REAL_SPEECH_DIR;
  const m = readManifest(dir);
  const wanted = m.clips.filter((c) => !options.only || options.only.some((p) => c.id.startsWith(p)));
  const clips: Clip[] = [];
  for (const c of wanted) {
    const flac = path.join(dir, "clips", `${c.id}.flac`);
    const wav = path.join(dir, "clips", `${c.id}.mulaw.wav`);
    const wideband = fs.readFileSync(flac);
    const telephony = fs.readFileSync(wav);
    const samples = await decodeWideband(flac, wideband);
    const licence = m.sources[c.source]?.licence;
    if (!licence) throw new Error(`${path.join(dir, "manifest.json")}: clip ${c.id} names source "${c.source}", which "sources" does not list`);
    clips.push({ ...c, licence, wideband, samples, telephony, mulaw: mulawPayload(wav, telephony), durationS: samples.length / 16000 });
  }
  return { keyterms: m.keyterms, clips };
}
