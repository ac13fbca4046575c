/**
 * Import a model the operator carried across the air gap: a sherpa-onnx release archive (or its
 * unpacked folder) becomes a staged directory with exactly the files the engine loads, their
 * licence texts, and a manifest (engine, files with size and SHA-256, sample rate, languages,
 * licence) that the server checks at every start. The staged copy is checked the way the server
 * checks it (layout, manifest, what sherpa-onnx reads) and then loaded once by sherpa-onnx itself.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { EngineConfigError, parseEngineConfig, STT_ENGINES, type EngineConfig } from "../engines/config";
import { probeMountedModels } from "../engines";
import { describeFiles, listFiles, MANIFEST_FILE, MANIFEST_FORMAT, sha256File, verifyManifest, type ModelManifest } from "../engines/manifest";
import { checkModelContents } from "../engines/model-check";
import { locateModelFiles, MODEL_LAYOUTS, type SherpaEngine } from "../engines/model-files";
import { readOnnxHeader } from "../engines/onnx-header";

export const SHERPA_ENGINES = Object.keys(MODEL_LAYOUTS) as SherpaEngine[];

export interface ImportOptions {
  source: string;
  engine: SherpaEngine;
  out: string;
  /** The licence the weights come under (SPDX id or name), as the model's publisher states it. */
  licence: string;
  /** Languages the model serves; default: what its metadata says, where it says. */
  languages?: string[];
  /** Whisper only: the language the model will be told to transcribe (the server's STT_LANGUAGE). */
  language?: string;
  /** Load the staged model once with sherpa-onnx (default true). */
  load?: boolean;
}

/** Licence and read-me texts at the model's top level travel with it. */
const LICENCE_TEXT = /^(licen[cs]e|copying|notice|readme)(\.[a-z]+)?$/i;

export class ImportError extends Error {}

const isStt = (engine: SherpaEngine) => (STT_ENGINES as readonly string[]).includes(engine);

/** Unpack an archive (any tar compression the system's tar reads) into a fresh directory; the model's root in it. */
function unpack(archive: string, into: string): string {
  try {
    // GNU tar drops leading "/" and "../" from member names, so nothing lands outside `into`.
    execFileSync("tar", ["-xf", archive, "-C", into, "--no-same-owner", "--no-same-permissions"], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim();
    throw new ImportError(`${archive}: tar could not unpack it (${stderr.split("\n").slice(-2).join(" ")}); a .tar.bz2 needs bzip2 installed`);
  }
  const top = fs.readdirSync(into);
  return top.length === 1 && fs.statSync(path.join(into, top[0])).isDirectory() ? path.join(into, top[0]) : into;
}

/** Links could point anywhere on the importing machine: a model directory holds files and folders only. */
function refuseLinks(root: string, under = ""): void {
  for (const entry of fs.readdirSync(path.join(root, under), { withFileTypes: true })) {
    const rel = under ? `${under}/${entry.name}` : entry.name;
    if (entry.isSymbolicLink()) throw new ImportError(`${rel} in the model is a symbolic link: copy what it points to into the folder instead`);
    if (entry.isDirectory()) refuseLinks(root, rel);
  }
}

/** The engine configuration that loads `dir` alone (the other kind stays on its built-in engine). */
function configFor(engine: SherpaEngine, dir: string, language: string | undefined): EngineConfig {
  return parseEngineConfig({
    stt: isStt(engine) ? { engine: engine as EngineConfig["stt"]["engine"], modelDir: dir, language } : { engine: "pocketsphinx" },
    tts: isStt(engine) ? { engine: "flite" } : { engine: engine as EngineConfig["tts"]["engine"], modelDir: dir },
    workers: 1,
    modelManifest: "required",
  });
}

/** Sample rate and languages as the model's own metadata gives them. */
function describeModel(engine: SherpaEngine, files: Record<string, string | undefined>): { sampleRate: number; languages?: string[] } {
  if (engine === "sherpa-whisper") {
    const meta = readOnnxHeader(files["<name>-encoder[.int8].onnx"]!).metadata;
    return { sampleRate: 16000, languages: meta.is_multilingual === "1" ? meta.all_language_codes.split(",") : ["en"] };
  }
  if (isStt(engine)) return { sampleRate: 16000 };
  const meta = readOnnxHeader(files[engine === "sherpa-vits" ? "<voice>.onnx" : "model[.int8].onnx"]!).metadata;
  return { sampleRate: Number(meta.sample_rate) };
}

/** Copy `rel` (a file or a folder) from `from` to `to`, as plain files. */
function copy(from: string, to: string, rel: string): void {
  fs.cpSync(path.join(from, rel), path.join(to, rel), { recursive: true, dereference: false, errorOnExist: true, force: false });
}

export async function importModel(options: ImportOptions): Promise<{ manifest: ModelManifest; out: string }> {
  const { engine } = options;
  if (!SHERPA_ENGINES.includes(engine)) throw new ImportError(`--engine ${engine}: expected one of ${SHERPA_ENGINES.join(", ")}`);
  const source = path.resolve(options.source);
  const out = path.resolve(options.out);
  if (!fs.existsSync(source)) throw new ImportError(`${options.source}: no such file or folder`);
  if (fs.existsSync(out) && fs.readdirSync(out).length > 0) throw new ImportError(`--out ${options.out}: not empty; stage each model into a new folder`);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "model-import-"));
  try {
    const archive = fs.statSync(source).isFile();
    const root = archive ? unpack(source, scratch) : source;
    refuseLinks(root);
    const files = locateModelFiles(engine, root, "source");
    const config = configFor(engine, root, options.language);
    checkModelContents(engine, root, files, "source", config);

    fs.mkdirSync(out, { recursive: true });
    const used = Object.values(files).filter((f): f is string => f !== undefined).map((f) => path.relative(root, f));
    const texts = fs.readdirSync(root).filter((f) => LICENCE_TEXT.test(f) && fs.statSync(path.join(root, f)).isFile() && !used.includes(f));
    for (const rel of [...used, ...texts]) copy(root, out, rel);

    const { sampleRate, languages } = describeModel(engine, files);
    const chosen = options.languages ?? languages;
    if (!chosen || chosen.length === 0) throw new ImportError(`--languages is required for ${engine}: its model files do not say which languages it serves`);
    const licenceFile = texts.find((t) => /^(licen[cs]e|copying)/i.test(t));
    const manifest: ModelManifest = {
      format: MANIFEST_FORMAT,
      engine,
      name: path.basename(source).replace(/\.tar(\.[a-z0-9]+)?$|\.t[gb]z2?$/i, ""),
      sampleRate,
      languages: chosen,
      licence: { name: options.licence, ...(licenceFile ? { file: licenceFile } : {}) },
      source: { name: path.basename(source), ...(archive ? { sha256: await sha256File(source) } : {}) },
      importedAt: new Date().toISOString(),
      files: await describeFiles(out, listFiles(out)),
    };
    fs.writeFileSync(path.join(out, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);

    // The staged copy, checked as the server will check it.
    const staged = locateModelFiles(engine, out, "out");
    await verifyManifest(engine, out, Object.values(staged).filter((f): f is string => f !== undefined), "out");
    if (options.load ?? true) await probeMountedModels(configFor(engine, out, options.language));
    return { manifest, out };
  } catch (err) {
    // `out` was empty or absent: leave nothing half-staged.
    fs.rmSync(out, { recursive: true, force: true });
    if (err instanceof EngineConfigError) throw new ImportError(err.message);
    throw err;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
