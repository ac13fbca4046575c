/**
 * Engine configuration: which STT/TTS engines run, where mounted models live, and how big the worker
 * pool and its queue are. Parsed once from the environment with zod so a bad value stops the server
 * at start with a message that names the variable.
 */
import os from "node:os";
import { z } from "zod";

export const STT_ENGINES = ["pocketsphinx", "sherpa-whisper", "sherpa-transducer", "sherpa-paraformer"] as const;
export const TTS_ENGINES = ["flite", "sherpa-vits", "sherpa-kokoro"] as const;
export type SttEngineName = (typeof STT_ENGINES)[number];
export type TtsEngineName = (typeof TTS_ENGINES)[number];

/**
 * Where a model runs: "cpu", "cuda" (a start-up error unless the runtime has the CUDA provider and a GPU
 * is visible), or "auto" (CUDA when both are there, CPU otherwise; the choice is logged at start).
 */
export const EXECUTION_PROVIDERS = ["cpu", "cuda", "auto"] as const;
export type ExecutionProviderSetting = (typeof EXECUTION_PROVIDERS)[number];
/** What a model actually runs on, once "auto" is decided. */
export type ExecutionProvider = Exclude<ExecutionProviderSetting, "auto">;
/** The engines that can run on a GPU: the sherpa-onnx (onnxruntime) ones; pocketsphinx and Flite are CPU code. */
export const GPU_CAPABLE_ENGINES: readonly (SttEngineName | TtsEngineName)[] = ["sherpa-whisper", "sherpa-transducer", "sherpa-paraformer", "sherpa-vits", "sherpa-kokoro"];

/** Where Debian's pocketsphinx-en-us package puts the US English model. */
export const DEFAULT_POCKETSPHINX_MODEL_DIR = "/usr/share/pocketsphinx/model/en-us";

const positiveInt = (max: number) => z.number().int().min(1).max(max);

/**
 * pocketsphinx search settings (speed against accuracy); unset ones keep the library's own default. Two
 * profiles, measured on the real-speech set (BENCHMARKS.md, "Real speech"): live decoding prunes hard
 * (maxhmmpf 2000, maxwpf 10) for latency; batch uploads prune less (10000, 20): 9% fewer errors for 1.4x the
 * CPU, the same WER as the library's defaults (30000, no word limit) at 0.8x their CPU.
 */
const otherSearchSettings = {
  /** Frame downsampling: 2 evaluates acoustic scores every other frame. */
  ds: z.number().int().min(1).max(4).optional(),
  /** Gaussians kept per frame in the acoustic model. */
  topn: z.number().int().min(1).max(64).optional(),
  /** Phone-loop lookahead window (frames); 0 turns the lookahead off. */
  plWindow: z.number().int().min(0).max(100).optional(),
  /** Second (flat-lexicon) search pass: more accurate, slower. */
  fwdflat: z.boolean().optional(),
  /** Lattice best-path pass: more accurate, gives word posteriors. */
  bestpath: z.boolean().optional(),
};
/** Most HMMs (senone sequences) evaluated per frame; fewer is faster. -1 = no limit. */
const maxhmmpf = z.number().int().min(-1).max(1_000_000);
/** Most distinct words allowed to end per frame. -1 = no limit. */
const maxwpf = z.number().int().min(-1).max(100_000);
const pocketsphinxSchema = z.object({ maxhmmpf: maxhmmpf.default(2000), maxwpf: maxwpf.default(10), ...otherSearchSettings });
const pocketsphinxBatchSchema = z.object({ maxhmmpf: maxhmmpf.default(10000), maxwpf: maxwpf.default(20), ...otherSearchSettings });
export type PocketsphinxSettings = z.infer<typeof pocketsphinxSchema>;

const engineConfigSchema = z
  .object({
    stt: z.object({
      engine: z.enum(STT_ENGINES),
      /** Model directory: required for sherpa engines; for pocketsphinx it overrides the Debian path. */
      modelDir: z.string().min(1).optional(),
      /** Whisper only: the language the model is told to transcribe ("" lets it detect). */
      language: z.string().default("en"),
      provider: z.enum(EXECUTION_PROVIDERS).default("cpu"),
      /** Live decoding's search settings. */
      pocketsphinx: pocketsphinxSchema.default({}),
      /** Batch (upload) decoding's search settings. */
      pocketsphinxBatch: pocketsphinxBatchSchema.default({}),
    }),
    tts: z.object({
      engine: z.enum(TTS_ENGINES),
      modelDir: z.string().min(1).optional(),
      /** Voice used when a request names none (or names a client alias such as "alloy" on a sherpa model). */
      defaultVoice: z.string().min(1).optional(),
      provider: z.enum(EXECUTION_PROVIDERS).default("cpu"),
    }),
    workers: positiveInt(256),
    /** Jobs that may wait for a free worker; beyond this a request is refused at once. */
    queueMax: z.number().int().min(0).max(100_000),
    /**
     * Niceness of the engine threads (Linux): above the event loop's 0, so when every core decodes, the
     * scheduler still runs the main thread at once and health checks and new requests are answered.
     */
    workerNice: z.number().int().min(0).max(19),
    /**
     * Extra worker threads for batch transcriptions only (0: batch work shares the workers), at niceness
     * batchNice, so the kernel runs live streams and speech first when every core is busy.
     */
    batchWorkers: z.number().int().min(0).max(256),
    batchNice: z.number().int().min(0).max(19),
    /** Live sessions per worker; each holds a decoder (made at startup, so new calls never wait for one), so this bounds memory. */
    streamsPerWorker: positiveInt(1024),
    /** onnxruntime threads per worker for sherpa models (the pool already runs one worker per core). */
    sherpaThreads: positiveInt(64),
    /**
     * Mounted models must carry the import command's model-manifest.json, checked at start ("required"); "optional"
     * also loads a directory without one (with a warning), for models being tried out. A manifest present is always checked.
     */
    modelManifest: z.enum(["required", "optional"]),
  })
  .superRefine((cfg, ctx) => {
    if (cfg.stt.engine !== "pocketsphinx" && !cfg.stt.modelDir) {
      ctx.addIssue({ code: "custom", path: ["stt", "modelDir"], message: `STT_MODEL_DIR is required for STT_ENGINE=${cfg.stt.engine}` });
    }
    if (cfg.tts.engine !== "flite" && !cfg.tts.modelDir) {
      ctx.addIssue({ code: "custom", path: ["tts", "modelDir"], message: `TTS_MODEL_DIR is required for TTS_ENGINE=${cfg.tts.engine}` });
    }
    for (const kind of ["stt", "tts"] as const) {
      const { engine, provider } = cfg[kind];
      if (provider === "cuda" && !GPU_CAPABLE_ENGINES.includes(engine)) {
        ctx.addIssue({
          code: "custom",
          path: [kind, "provider"],
          message: `${engine} runs on the CPU only and cannot use CUDA: set cpu (or auto), or pick a sherpa engine (${(kind === "stt" ? STT_ENGINES : TTS_ENGINES).filter((e) => GPU_CAPABLE_ENGINES.includes(e)).join(", ")})`,
        });
      }
    }
    if (cfg.tts.engine === "flite" && cfg.tts.modelDir) {
      ctx.addIssue({ code: "custom", path: ["tts", "modelDir"], message: "TTS_MODEL_DIR is not used by the built-in flite engine: unset it or pick a sherpa TTS_ENGINE" });
    }
  });

export type EngineConfig = z.infer<typeof engineConfigSchema>;

/**
 * What one replica serves without queueing, per lane: the one derivation of the capacity the server
 * exports (`inference_capacity`) and the autoscaler scales on. Live: every live worker's stream slots;
 * batch: one transcription per batch worker, or none when batch work shares the live workers.
 */
export function laneCapacity(config: Pick<EngineConfig, "workers" | "batchWorkers" | "streamsPerWorker">): { live: number; batch: number | undefined } {
  return { live: config.workers * config.streamsPerWorker, batch: config.batchWorkers > 0 ? config.batchWorkers : undefined };
}
export type EngineConfigInput = z.input<typeof engineConfigSchema>;

/** A startup error the operator must fix (bad variable, missing package or model file). */
export class EngineConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EngineConfigError";
  }
}

/** Which environment variable each config path comes from, so errors name what the operator sets. */
const ENV_NAMES: Record<string, string> = {
  "stt.engine": "STT_ENGINE",
  "stt.modelDir": "STT_MODEL_DIR",
  "stt.language": "STT_LANGUAGE",
  "stt.provider": "STT_PROVIDER",
  "stt.pocketsphinx.maxhmmpf": "POCKETSPHINX_MAXHMMPF",
  "stt.pocketsphinx.maxwpf": "POCKETSPHINX_MAXWPF",
  "stt.pocketsphinx.ds": "POCKETSPHINX_DS",
  "stt.pocketsphinx.topn": "POCKETSPHINX_TOPN",
  "stt.pocketsphinx.plWindow": "POCKETSPHINX_PL_WINDOW",
  "stt.pocketsphinx.fwdflat": "POCKETSPHINX_FWDFLAT",
  "stt.pocketsphinx.bestpath": "POCKETSPHINX_BESTPATH",
  "stt.pocketsphinxBatch.maxhmmpf": "POCKETSPHINX_BATCH_MAXHMMPF",
  "stt.pocketsphinxBatch.maxwpf": "POCKETSPHINX_BATCH_MAXWPF",
  "stt.pocketsphinxBatch.ds": "POCKETSPHINX_BATCH_DS",
  "stt.pocketsphinxBatch.topn": "POCKETSPHINX_BATCH_TOPN",
  "stt.pocketsphinxBatch.plWindow": "POCKETSPHINX_BATCH_PL_WINDOW",
  "stt.pocketsphinxBatch.fwdflat": "POCKETSPHINX_BATCH_FWDFLAT",
  "stt.pocketsphinxBatch.bestpath": "POCKETSPHINX_BATCH_BESTPATH",
  "tts.engine": "TTS_ENGINE",
  "tts.modelDir": "TTS_MODEL_DIR",
  "tts.defaultVoice": "TTS_DEFAULT_VOICE",
  "tts.provider": "TTS_PROVIDER",
  workers: "WORKERS",
  queueMax: "QUEUE_MAX",
  workerNice: "WORKER_NICE",
  batchWorkers: "BATCH_WORKERS",
  batchNice: "BATCH_WORKER_NICE",
  streamsPerWorker: "STREAMS_PER_WORKER",
  sherpaThreads: "SHERPA_THREADS",
  modelManifest: "MODEL_MANIFEST",
};

function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const key = issue.path.join(".");
      return `${ENV_NAMES[key] ?? key}: ${issue.message}`;
    })
    .join("; ");
}

/** Validate a config given as an object (tests, embedders); fills defaults for pool sizes. */
export function parseEngineConfig(input: Partial<EngineConfigInput> & Pick<EngineConfigInput, "stt" | "tts">): EngineConfig {
  const workers = input.workers ?? os.availableParallelism();
  const parsed = engineConfigSchema.safeParse({
    ...input,
    workers,
    queueMax: input.queueMax ?? 4 * workers,
    workerNice: input.workerNice ?? 10,
    batchWorkers: input.batchWorkers ?? workers,
    batchNice: input.batchNice ?? 19,
    streamsPerWorker: input.streamsPerWorker ?? 8,
    sherpaThreads: input.sherpaThreads ?? 1,
    modelManifest: input.modelManifest ?? "required",
  });
  if (!parsed.success) throw new EngineConfigError(`invalid engine configuration: ${formatIssues(parsed.error)}`);
  return parsed.data;
}

function intFromEnv(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  if (!/^-?\d+$/.test(raw.trim())) throw new EngineConfigError(`invalid engine configuration: ${name}: expected a whole number, got "${raw.slice(0, 40)}"`);
  return Number(raw.trim());
}

function boolFromEnv(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === "") return undefined;
  if (raw === "true" || raw === "yes") return true;
  if (raw === "false" || raw === "no") return false;
  throw new EngineConfigError(`invalid engine configuration: ${name}: expected true or false, got "${env[name]!.slice(0, 40)}"`);
}

function strFromEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name]?.trim();
  return raw ? raw : undefined;
}

function searchSettingsFromEnv(env: NodeJS.ProcessEnv, prefix: string): Partial<PocketsphinxSettings> {
  return {
    maxhmmpf: intFromEnv(env, `${prefix}MAXHMMPF`),
    maxwpf: intFromEnv(env, `${prefix}MAXWPF`),
    ds: intFromEnv(env, `${prefix}DS`),
    topn: intFromEnv(env, `${prefix}TOPN`),
    plWindow: intFromEnv(env, `${prefix}PL_WINDOW`),
    fwdflat: boolFromEnv(env, `${prefix}FWDFLAT`),
    bestpath: boolFromEnv(env, `${prefix}BESTPATH`),
  };
}

/**
 * Read the engine configuration from environment variables: STT_ENGINE (default pocketsphinx),
 * STT_MODEL_DIR, STT_LANGUAGE, STT_PROVIDER (cpu, cuda or auto; default cpu), TTS_ENGINE (default flite),
 * TTS_MODEL_DIR, TTS_DEFAULT_VOICE, TTS_PROVIDER,
 * WORKERS (default: available cores), QUEUE_MAX (default 4 x WORKERS, per lane), WORKER_NICE (10), BATCH_WORKERS (default WORKERS),
 * BATCH_WORKER_NICE (19), STREAMS_PER_WORKER (8), SHERPA_THREADS (1), MODEL_MANIFEST (required or optional),
 * and the pocketsphinx search settings, live: POCKETSPHINX_MAXHMMPF, _MAXWPF, _DS, _TOPN, _PL_WINDOW, _FWDFLAT,
 * _BESTPATH; batch: the same names after POCKETSPHINX_BATCH_.
 */
export function engineConfigFromEnv(env: NodeJS.ProcessEnv = process.env): EngineConfig {
  return parseEngineConfig({
    stt: {
      engine: (strFromEnv(env, "STT_ENGINE") ?? "pocketsphinx") as SttEngineName,
      modelDir: strFromEnv(env, "STT_MODEL_DIR"),
      language: env.STT_LANGUAGE?.trim(),
      provider: strFromEnv(env, "STT_PROVIDER")?.toLowerCase() as ExecutionProviderSetting | undefined,
      pocketsphinx: searchSettingsFromEnv(env, "POCKETSPHINX_"),
      pocketsphinxBatch: searchSettingsFromEnv(env, "POCKETSPHINX_BATCH_"),
    },
    tts: {
      engine: (strFromEnv(env, "TTS_ENGINE") ?? "flite") as TtsEngineName,
      modelDir: strFromEnv(env, "TTS_MODEL_DIR"),
      defaultVoice: strFromEnv(env, "TTS_DEFAULT_VOICE"),
      provider: strFromEnv(env, "TTS_PROVIDER")?.toLowerCase() as ExecutionProviderSetting | undefined,
    },
    workers: intFromEnv(env, "WORKERS"),
    queueMax: intFromEnv(env, "QUEUE_MAX"),
    workerNice: intFromEnv(env, "WORKER_NICE"),
    batchWorkers: intFromEnv(env, "BATCH_WORKERS"),
    batchNice: intFromEnv(env, "BATCH_WORKER_NICE"),
    streamsPerWorker: intFromEnv(env, "STREAMS_PER_WORKER"),
    sherpaThreads: intFromEnv(env, "SHERPA_THREADS"),
    modelManifest: strFromEnv(env, "MODEL_MANIFEST")?.toLowerCase() as EngineConfig["modelManifest"] | undefined,
  });
}
