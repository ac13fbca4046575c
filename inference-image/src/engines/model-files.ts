/**
 * What a model directory must contain, checked on the main thread before any worker or native library
 * loads: a missing directory or file is a startup error that names exactly what is absent.
 */
import fs from "node:fs";
import path from "node:path";
import { EngineConfigError, type SttEngineName, type TtsEngineName } from "./config";

export const POCKETSPHINX_INSTALL_HINT = "install them with: apt-get install libpocketsphinx3 pocketsphinx-en-us";

/** The files pocketsphinx needs in a model directory laid out like Debian's pocketsphinx-en-us. */
const POCKETSPHINX_FILES = ["en-us/mdef", "en-us/means", "en-us/variances", "en-us/transition_matrices", "en-us/feat.params", "en-us.lm.bin", "cmudict-en-us.dict"];

export function checkPocketsphinxModel(modelDir: string): void {
  const missing = POCKETSPHINX_FILES.filter((f) => !fs.existsSync(path.join(modelDir, f)));
  if (missing.length > 0) {
    throw new EngineConfigError(`pocketsphinx model files missing in ${modelDir}: ${missing.join(", ")}; ${POCKETSPHINX_INSTALL_HINT}`);
  }
}

/** One expected file: a description for errors, and how to find it (int8 weights preferred on CPU). */
interface Expected {
  name: string;
  find: (files: string[]) => string | undefined;
  optional?: boolean;
}

const onnx = (stem: RegExp) => (files: string[]) =>
  files.find((f) => new RegExp(`${stem.source}\\.int8\\.onnx$`).test(f)) ?? files.find((f) => new RegExp(`${stem.source}\\.onnx$`).test(f));
const exact = (name: string) => (files: string[]) => files.find((f) => f === name);

/** The engines whose models are mounted directories read by sherpa-onnx. */
export type SherpaEngine = Exclude<SttEngineName, "pocketsphinx"> | Exclude<TtsEngineName, "flite">;

export const MODEL_LAYOUTS: Record<SherpaEngine, Expected[]> = {
  "sherpa-whisper": [
    { name: "<name>-encoder[.int8].onnx", find: onnx(/-encoder/) },
    { name: "<name>-decoder[.int8].onnx", find: onnx(/-decoder/) },
    { name: "<name>-tokens.txt", find: (fs_) => fs_.find((f) => /-tokens\.txt$/.test(f)) },
  ],
  "sherpa-transducer": [
    { name: "encoder*[.int8].onnx", find: onnx(/^encoder.*?/) },
    { name: "decoder*[.int8].onnx", find: onnx(/^decoder.*?/) },
    { name: "joiner*[.int8].onnx", find: onnx(/^joiner.*?/) },
    { name: "tokens.txt", find: exact("tokens.txt") },
  ],
  "sherpa-paraformer": [
    { name: "model[.int8].onnx", find: onnx(/^model/) },
    { name: "tokens.txt", find: exact("tokens.txt") },
  ],
  "sherpa-vits": [
    { name: "<voice>.onnx", find: (fs_) => fs_.find((f) => f.endsWith(".onnx")) },
    { name: "tokens.txt", find: exact("tokens.txt") },
    { name: "lexicon.txt", find: exact("lexicon.txt"), optional: true },
    { name: "espeak-ng-data/", find: exact("espeak-ng-data"), optional: true },
  ],
  "sherpa-kokoro": [
    { name: "model[.int8].onnx", find: onnx(/^model/) },
    { name: "voices.bin", find: exact("voices.bin") },
    { name: "tokens.txt", find: exact("tokens.txt") },
    { name: "espeak-ng-data/", find: exact("espeak-ng-data") },
    { name: "lexicon-us-en.txt", find: exact("lexicon-us-en.txt"), optional: true },
  ],
};

/** Resolve the expected files of `engine` in `dir`, or fail naming every one that is absent. */
export function locateModelFiles(engine: SherpaEngine, dir: string, envName: string): Record<string, string | undefined> {
  let files: string[];
  try {
    if (!fs.statSync(dir).isDirectory()) throw new Error("not a directory");
    files = fs.readdirSync(dir);
  } catch (err) {
    throw new EngineConfigError(`${envName}=${dir}: cannot read the model directory for ${engine} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const found: Record<string, string | undefined> = {};
  const missing: string[] = [];
  for (const e of MODEL_LAYOUTS[engine]) {
    const hit = e.find(files);
    if (hit === undefined && !e.optional) missing.push(e.name);
    found[e.name] = hit === undefined ? undefined : path.join(dir, hit);
  }
  if (missing.length > 0) {
    throw new EngineConfigError(`${envName}=${dir}: the ${engine} model directory is missing ${missing.join(", ")} (found: ${files.slice(0, 20).join(", ") || "nothing"})`);
  }
  return found;
}

