/**
 * The engines behind the `Speech` seam. `createSpeech` checks the configuration and model files, starts
 * the worker pool and resolves once every worker has loaded its models; every startup problem is an
 * EngineConfigError whose message says what to fix.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { silentLogger, type Logger } from "../shared/log";
import { DEFAULT_POCKETSPHINX_MODEL_DIR, EngineConfigError, type EngineConfig } from "./config";
import { verifyManifest, MANIFEST_FILE } from "./manifest";
import { checkModelContents } from "./model-check";
import { checkPocketsphinxModel, locateModelFiles, type SherpaEngine } from "./model-files";
import { WorkerPool, workerEntry } from "./pool";
import { detectGpu, idleGpuWarning, inspectOnnxRuntime, resolveExecution, type Machine } from "./providers";
import type { Speech } from "./types";

export { engineConfigFromEnv, parseEngineConfig, EngineConfigError, type EngineConfig } from "./config";
export { resolveVoice, VOICE_ALIASES, FLITE_VOICES } from "./voices";
export * from "./types";

/**
 * Fail fast, in this thread, on what can be seen without loading a model: missing directories and files,
 * a model that differs from its manifest, and files sherpa-onnx would reject.
 */
async function checkModelFiles(config: EngineConfig, logger: Logger): Promise<void> {
  if (config.stt.engine === "pocketsphinx") checkPocketsphinxModel(config.stt.modelDir ?? DEFAULT_POCKETSPHINX_MODEL_DIR);
  const mounted: [SherpaEngine, string, string][] = [];
  if (config.stt.engine !== "pocketsphinx") mounted.push([config.stt.engine, config.stt.modelDir!, "STT_MODEL_DIR"]);
  if (config.tts.engine !== "flite") mounted.push([config.tts.engine, config.tts.modelDir!, "TTS_MODEL_DIR"]);
  for (const [engine, dir, envName] of mounted) {
    const files = locateModelFiles(engine, dir, envName);
    if (config.modelManifest === "required" || fs.existsSync(path.join(dir, MANIFEST_FILE))) {
      const manifest = await verifyManifest(engine, dir, Object.values(files).filter((f): f is string => f !== undefined), envName);
      logger.info("model verified against its manifest", { engine, dir, name: manifest.name, files: manifest.files.length, licence: manifest.licence.name });
    } else {
      logger.warn(`${envName}=${dir} has no ${MANIFEST_FILE}: loading it unverified (MODEL_MANIFEST=optional)`, { engine });
    }
    checkModelContents(engine, dir, files, envName, config);
  }
}

/**
 * Load mounted models once in a child process first: onnxruntime aborts the whole process on a
 * malformed model file, which in a worker thread would take the server down without a useful message.
 * Also what the import command runs on a model it stages.
 */
export async function probeMountedModels(config: EngineConfig): Promise<void> {
  const entry = workerEntry();
  const args = entry.eval ? ["-e", entry.script] : [entry.script];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ENGINE_PROBE_CONFIG: JSON.stringify({ ...config, workers: 1 }) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    if (stderr.length < 16_384) stderr += d.toString();
  });
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (c, s) => resolve({ code: c, signal: s }));
  });
  if (code === 0) return;
  const lines = stderr.split("\n").map((l) => l.trim()).filter(Boolean);
  const reason = lines.find((l) => l.startsWith("what():"))?.replace(/^what\(\):\s*/, "") ?? lines.slice(-3).join(" ");
  const dirs = [config.stt.modelDir && `STT_MODEL_DIR=${config.stt.modelDir}`, config.tts.modelDir && `TTS_MODEL_DIR=${config.tts.modelDir}`].filter(Boolean).join(", ");
  throw new EngineConfigError(`the mounted model (${dirs}) could not be loaded (${signal ?? `exit ${code}`}): ${reason || "no error output"}`);
}

export interface CreateSpeechOptions {
  /** Where the execution-provider choices and the idle-GPU warning are logged. */
  logger?: Logger;
  /** The runtime and GPU to decide providers against (default: this machine's). */
  machine?: Machine;
}

/**
 * Decide each model's execution provider ("auto" becomes cpu or cuda; an impossible "cuda" stops here,
 * before any model loads), check the model files, then start the workers with the decided providers.
 */
export async function createSpeech(config: EngineConfig, options: CreateSpeechOptions = {}): Promise<Speech> {
  const logger = options.logger ?? silentLogger;
  const machine = options.machine ?? { onnxRuntime: () => inspectOnnxRuntime(), gpu: detectGpu() };
  const choices = resolveExecution(config, machine);
  for (const kind of ["stt", "tts"] as const) {
    logger.info("execution provider", { kind, engine: config[kind].engine, requested: choices[kind].requested, provider: choices[kind].provider, reason: choices[kind].reason });
  }
  const warning = idleGpuWarning(choices, machine.gpu);
  if (warning) logger.warn(warning);
  const resolved: EngineConfig = { ...config, stt: { ...config.stt, provider: choices.stt.provider }, tts: { ...config.tts, provider: choices.tts.provider } };
  await checkModelFiles(resolved, logger);
  if (resolved.stt.modelDir || resolved.tts.modelDir) await probeMountedModels(resolved);
  return WorkerPool.start(resolved);
}
