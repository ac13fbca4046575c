/**
 * The `workloads` section of an environment file, and the schemas the workload constructs parse their
 * props with, so a library caller gets the same defaults and checks as an environment file.
 * Every default is the production-minded one: a GPU per pod, two replicas or more, bounded resources.
 */
import { z } from "zod";
import { GPU_INSTANCE_TYPES } from "../cluster/gpu-instance-types";
import { SHUTDOWN_MARGIN_SECONDS } from "../shared/drain";
import { BUILTIN_ENGINES, EXECUTION_PROVIDERS, SECRETS, SERVER_LIMITS, STT_ENGINES, TLS_SECRET, TTS_ENGINES } from "./contract";
import { parseCpu, parseMemory } from "./private/quantity";

const cpu = z.string().refine((v) => (parseCpu(v) ?? 0) > 0, { message: 'expected a CPU quantity such as "500m" or "2"' });
const memory = z.string().refine((v) => (parseMemory(v) ?? 0) > 0, { message: 'expected a memory quantity such as "512Mi" or "8Gi"' });

const resources = (defaults: { cpu: [string, string]; memory: [string, string] }) =>
  z
    .object({
      requests: z.object({ cpu: cpu.default(defaults.cpu[0]), memory: memory.default(defaults.memory[0]) }).strict().default({}),
      limits: z.object({ cpu: cpu.default(defaults.cpu[1]), memory: memory.default(defaults.memory[1]) }).strict().default({}),
    })
    .strict()
    .default({})
    .superRefine((r, ctx) => {
      if (parseMemory(r.limits.memory)! < parseMemory(r.requests.memory)!) {
        ctx.addIssue({ code: "custom", path: ["limits", "memory"], message: `expected a memory limit >= the request (${r.requests.memory}), or the pod cannot be scheduled` });
      }
      if (parseCpu(r.limits.cpu)! < parseCpu(r.requests.cpu)!) {
        ctx.addIssue({ code: "custom", path: ["limits", "cpu"], message: `expected a CPU limit >= the request (${r.requests.cpu})` });
      }
    });

/** Longest request the server may take; SIGTERM then waits this long plus a margin, within the server's own cap. */
const maxRequestSeconds = SERVER_LIMITS.shutdownGraceMs.max / 1000 - SHUTDOWN_MARGIN_SECONDS;

const secretName = (what: string) =>
  z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, `expected a Kubernetes Secret name (lowercase letters, digits, '-' and '.') for ${what}`)
    .max(253);

/** Label keys and values as Kubernetes takes them (an optional DNS prefix, a name of up to 63 characters). */
const labelKey = z.string().regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, "expected a Kubernetes label key");
const labelValue = z.string().regex(/^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/, "expected a Kubernetes label value (63 characters at most)");

/**
 * A caller inside the cluster, admitted to the inference pods by name: its namespace and its pods' labels.
 * It calls the Service in-cluster (`<service>.<namespace>.svc:8080`, TLS with the pods' certificate), not the
 * load balancer, whose clients exclude the cluster's own network.
 */
export const inClusterCallerSchema = z
  .object({
    namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "expected a Kubernetes namespace name").max(63),
    /** The caller's pods: at least one label, so no namespace is admitted whole. */
    podLabels: z.record(labelKey, labelValue).refine((labels) => Object.keys(labels).length > 0, { message: "expected at least one label of the calling pods: a whole namespace is too wide" }),
  })
  .strict();

/** One inference Deployment: where it runs, how big each pod is and how it scales. */
export const inferenceServiceSettingsSchema = z
  .object({
    /** GPU node pool (default: any GPU pool), for a service that runs on GPU nodes (see gpuPlacement). */
    pool: z.string().min(1).optional(),
    /**
     * Run this service on GPU nodes although none of its engines uses a GPU (every model a CPU engine or
     * set to cpu): a paid GPU left idle, so the environment file must say why (20 characters or more).
     */
    cpuEnginesOnGpu: z.object({ reason: z.string().trim().min(20, "expected a reason of at least 20 characters: why CPU engines hold GPU nodes") }).strict().optional(),
    /** `nvidia.com/gpu` each pod on GPU nodes requests. */
    gpusPerPod: z
      .number()
      .int()
      .min(1, "expected at least 1 GPU per pod: inference pods run on GPU pools, and a pod without a GPU would hold a GPU node and leave its GPU idle")
      .max(8)
      .default(1),
    replicas: z
      .object({ min: z.number().int().min(1).default(2), max: z.number().int().min(1).default(6) })
      .strict()
      .default({})
      .refine((r) => r.max >= r.min, { message: "expected replicas.max >= replicas.min", path: ["max"] }),
    /**
     * HPA target per engine lane: the average of the server's `inference_load_ratio` (in-flight work over
     * what a replica holds without queueing). Below 1 so replicas are added before work queues, and so the
     * live lane, whose ratio cannot pass 1 (streams beyond capacity are refused), still drives scale-up.
     */
    targetLoadRatio: z.number().gt(0).max(1).default(0.8),
    /** HPA target on CPU (metrics-server), averaged over pods, percent of the request; what it scales on while the custom metrics are unavailable. */
    targetCpuUtilization: z.number().int().min(10).max(100).default(70),
    resources: resources({ cpu: ["2", "4"], memory: ["8Gi", "16Gi"] }),
    /** The server's per-request timeout; termination waits longer than this, so no request is cut off (shared/drain.ts derives the rest). */
    requestTimeoutSeconds: z
      .number()
      .int()
      .min(SERVER_LIMITS.requestTimeoutMs.min / 1000)
      .max(maxRequestSeconds, `expected at most ${maxRequestSeconds} s: the server waits at most ${SERVER_LIMITS.shutdownGraceMs.max / 1000} s on shutdown`)
      .default(300),
    /** Engine worker threads per pod; default: the CPU request rounded down (at least 1). */
    workers: z.number().int().min(1).max(256).optional(),
    /** Jobs that may wait for a worker before the server answers 429; default: the server's own (4 x workers). */
    queueMax: z.number().int().min(0).max(100_000).optional(),
    /**
     * The Secret, created by the operator (never by Terraform, so no key or digest lands in state), that holds
     * the API keys or the teams document under the key `keys`. Changes apply in the pods without a restart.
     */
    apiKeysSecret: secretName("the API keys").default(SECRETS.apiKeys.name),
    /**
     * The Secret of type kubernetes.io/tls the pods serve TLS with (behind a TLS listener; not with plainTcp), created by the
     * operator or an in-cluster issuer, never by Terraform. A renewed one applies in the pods without a restart.
     */
    tlsSecret: secretName("the pods' TLS certificate").default(TLS_SECRET.name),
    /** Pods in the cluster admitted to call this service directly (the load balancer's clients exclude the cluster's network). */
    callers: z.array(inClusterCallerSchema).default([]),
  })
  .strict();

/**
 * A model image in the environment's registry (`models/<stt|tts>` repository): the tag it was pushed as (immutable
 * there) and the digest the pods pull, so a reviewer sees exactly which weights run.
 */
const modelImageSchema = z
  .object({
    tag: z
      .string()
      .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, "expected a Docker image tag")
      .refine((t) => t !== "latest", { message: 'expected an immutable tag, not "latest"' }),
    digest: z.string().regex(/^sha256:[a-f0-9]{64}$/, "expected the image's digest, sha256:<64 hex digits> (printed by the push)"),
  })
  .strict();

const modelSchema = <E extends readonly [string, ...string[]]>(engines: E) =>
  z
    .object({
      engine: z.enum(engines),
      /** Execution provider (the server's STT_PROVIDER/TTS_PROVIDER): cuda or auto makes the service request a GPU. */
      provider: z.enum(EXECUTION_PROVIDERS).default("cpu"),
      /** Source "image": the model's absolute directory in the inference image. */
      location: z.string().min(1).optional(),
      /** Source "registry": the model's own image (model-import --image-from writes its build). */
      image: modelImageSchema.optional(),
    })
    .strict();

/** Where neural models come from. `s3` is retired: the pod that serves audio has no path out, so it syncs nothing. */
export const MODEL_SOURCES = ["image", "registry"] as const;

export const modelSettingsSchema = z
  .object({
    /**
     * "image": built-in engines, or models baked into the inference image at `location`. "registry": each model is an
     * image of its own in the environment's registry, which an init container copies into the pod with no network
     * (the kubelet pulls it with the node role, like every image).
     */
    source: z
      .enum(MODEL_SOURCES, {
        errorMap: () => ({
          message:
            'expected "image" or "registry" ("s3" is retired: the pods that serve audio reach only DNS and the license proxy, so they sync nothing from a bucket; import the model as an image instead, see UPGRADING.md)',
        }),
      })
      .default("image"),
    stt: modelSchema(STT_ENGINES).default({ engine: "pocketsphinx" }),
    tts: modelSchema(TTS_ENGINES).default({ engine: "flite" }),
    /** Size of the pod-local volume the models are copied to (source "registry"). */
    volumeSize: memory.default("20Gi"),
  })
  .strict()
  .superRefine((m, ctx) => {
    for (const kind of ["stt", "tts"] as const) {
      const { engine, location, provider, image } = m[kind];
      const path = [kind, "location"];
      if (provider !== "cpu" && BUILTIN_ENGINES.includes(engine)) {
        ctx.addIssue({ code: "custom", path: [kind, "provider"], message: `expected "cpu": ${engine} runs on the CPU only and cannot use a GPU` });
      }
      if (BUILTIN_ENGINES.includes(engine)) {
        if (location) ctx.addIssue({ code: "custom", path, message: `expected no location: ${engine} is built into the image` });
        if (image) ctx.addIssue({ code: "custom", path: [kind, "image"], message: `expected no model image: ${engine} is built into the inference image` });
      } else if (m.source === "registry") {
        if (!image) ctx.addIssue({ code: "custom", path: [kind, "image"], message: `expected the model image of engine ${engine}: { "tag", "digest" } as pushed to the registry's models/${kind} repository` });
        if (location) ctx.addIssue({ code: "custom", path, message: 'expected no location with source "registry": the model image holds the model at a fixed path' });
      } else {
        if (image) ctx.addIssue({ code: "custom", path: [kind, "image"], message: 'expected no model image with source "image" (set source "registry" to use one)' });
        if (!location) ctx.addIssue({ code: "custom", path, message: `expected the model's directory in the image for engine ${engine}` });
        else if (!location.startsWith("/")) ctx.addIssue({ code: "custom", path, message: 'expected an absolute directory in the image, such as "/opt/models/whisper-small"' });
      }
    }
  });

/** The model images an environment's pods run (source "registry"), by kind: what the registry needs repositories for. */
export function modelImagesOf(models: ModelSettings): Partial<Record<"stt" | "tts", { tag: string; digest: string }>> {
  if (models.source !== "registry") return {};
  return Object.fromEntries((["stt", "tts"] as const).filter((kind) => models[kind].image).map((kind) => [kind, models[kind].image!]));
}

/** Namespace of the Prometheus allowed to scrape our pods (default `monitoring`); every construct's scrape rule takes it through scraperIngress. */
export const metricsScraperNamespaceSchema = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "expected a Kubernetes namespace name")
  .max(63)
  .default("monitoring");

export const licenseProxySettingsSchema = z
  .object({
    /** Each replica keeps its own lease and spool; two keep authorizing through a node loss. */
    replicas: z.number().int().min(1).max(5).default(2),
    /** Size of each replica's volume (lease + usage spool). */
    storageSize: memory.default("10Gi"),
    resources: resources({ cpu: ["100m", "1"], memory: ["256Mi", "512Mi"] }),
  })
  .strict();

/** The five numeric fields of a Kubernetes CronJob schedule: name, lowest and highest value. */
const CRON_FIELDS: [string, number, number][] = [
  ["minute", 0, 59],
  ["hour", 0, 23],
  ["day of month", 1, 31],
  ["month", 1, 12],
  ["day of week", 0, 7],
];

/** What is wrong with a five-field cron schedule (numbers, `*`, ranges, lists, steps), or undefined. */
export function cronScheduleProblem(schedule: string): string | undefined {
  const fields = schedule.trim().split(/\s+/);
  if (fields.length !== 5) return `expected five cron fields (minute hour day-of-month month day-of-week), found ${fields.length}`;
  for (const [i, field] of fields.entries()) {
    const [name, low, high] = CRON_FIELDS[i];
    for (const part of field.split(",")) {
      const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
      const outOfRange = (v: string | undefined) => v !== undefined && (Number(v) < low || Number(v) > high);
      if (!m || outOfRange(m[2]) || outOfRange(m[3]) || (m[3] !== undefined && Number(m[3]) < Number(m[2])) || (m[4] !== undefined && Number(m[4]) < 1)) {
        return `expected the ${name} field as numbers ${low}-${high}, "*", ranges (a-b), lists (a,b) or steps (/n), found "${field}"`;
      }
    }
  }
  return undefined;
}

const cronSchedule = z.string().superRefine((v, ctx) => {
  const problem = cronScheduleProblem(v);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/**
 * Off hours where an environment allows it (dev, staging): every inference Deployment goes to zero
 * replicas at `down` and back to its `replicas.min` at `up`, by two CronJobs (ScheduledScaling). In between
 * the service does not answer, and GPU nodes it held are given back by the cluster autoscaler.
 */
export const scaleToZeroSettingsSchema = z
  .object({
    /** When the inference services go to zero (cron, in `timeZone`), e.g. "0 20 * * 1-5". */
    down: cronSchedule,
    /** When they come back to `replicas.min` (cron, in `timeZone`), e.g. "0 7 * * 1-5". */
    up: cronSchedule,
    /** IANA time zone both schedules are read in (the CronJobs' `timeZone`). */
    timeZone: z
      .string()
      .default("Etc/UTC")
      .refine(
        (tz) => {
          try {
            new Intl.DateTimeFormat("en", { timeZone: tz });
            return true;
          } catch {
            return false;
          }
        },
        { message: 'expected an IANA time zone such as "Europe/Dublin" or "Etc/UTC"' },
      ),
  })
  .strict()
  .refine((s) => s.down.trim() !== s.up.trim(), { message: "expected different schedules for down and up", path: ["up"] });

const imageRef = z
  .object({
    /** An immutable tag of the inference image in the environment's registry ("latest" is refused: it is not a pin). */
    tag: z
      .string()
      .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, "expected a Docker image tag")
      .refine((t) => t !== "latest", { message: 'expected an immutable tag, not "latest"' })
      .optional(),
    digest: z.string().regex(/^sha256:[a-f0-9]{64}$/, "expected a digest like sha256:<64 hex digits>").optional(),
    /**
     * The image's onnxruntime has the CUDA execution provider (built with SHERPA_ONNX_CUDA_LIBS). The
     * image `npm run image:build` makes has none: there `cuda` cannot start and `auto` runs on the CPU.
     */
    cudaRuntime: z.boolean().default(false),
  })
  .strict()
  .refine((i) => !(i.tag && i.digest), { message: "expected a tag or a digest, not both" });

export const workloadsSettingsSchema = z
  .object({
    /** Overrides the inference image pin the registry construct holds. */
    image: imageRef.default({}),
    /** Run STT and TTS as separate services, each with its own pods and scaling (`stt`, `tts`); otherwise one service (`inference`). */
    split: z.boolean().default(false),
    inference: inferenceServiceSettingsSchema.default({}),
    stt: inferenceServiceSettingsSchema.default({}),
    tts: inferenceServiceSettingsSchema.default({}),
    models: modelSettingsSchema.default({}),
    licenseProxy: licenseProxySettingsSchema.default({}),
    /** Namespace of the Prometheus that scrapes our pods: the only one the NetworkPolicies admit to the metrics ports. */
    metricsScraperNamespace: metricsScraperNamespaceSchema,
    /** Scheduled scale to zero (off hours); default none: warm replicas (`replicas.min`) at all times, as production needs. */
    scaleToZero: scaleToZeroSettingsSchema.optional(),
  })
  .strict()
  .superRefine((w, ctx) => checkCudaRuntime(w.models, w.image.cudaRuntime, (path, message) => ctx.addIssue({ code: "custom", path, message })));

/** An inference service's settings, with defaults applied. */
export type InferenceServiceSettings = z.output<typeof inferenceServiceSettingsSchema>;
/** An inference service's settings as props take them (defaults may be left out). */
export type InferenceServiceSettingsInput = z.input<typeof inferenceServiceSettingsSchema>;
/** Engines and model source, with defaults applied. */
export type ModelSettings = z.output<typeof modelSettingsSchema>;
/** Engines and model source as props take them (defaults may be left out). */
export type ModelSettingsInput = z.input<typeof modelSettingsSchema>;
/** License proxy settings, with defaults applied. */
export type LicenseProxySettings = z.output<typeof licenseProxySettingsSchema>;
/** License proxy settings as props take them (defaults may be left out). */
export type LicenseProxySettingsInput = z.input<typeof licenseProxySettingsSchema>;
/** Scheduled scale to zero, with defaults applied. */
export type ScaleToZeroSettings = z.output<typeof scaleToZeroSettingsSchema>;
/** Scheduled scale to zero as props take it (defaults may be left out). */
export type ScaleToZeroSettingsInput = z.input<typeof scaleToZeroSettingsSchema>;
/** The `workloads` section of an environment file, with defaults applied. */
export type WorkloadsSettings = z.output<typeof workloadsSettingsSchema>;

/** The services an environment runs: one combined service, or STT and TTS apart. */
export function inferenceServicesOf(w: WorkloadsSettings): { key: "inference" | "stt" | "tts"; settings: InferenceServiceSettings }[] {
  return w.split ? [{ key: "stt", settings: w.stt }, { key: "tts", settings: w.tts }] : [{ key: "inference", settings: w.inference }];
}

/** `cuda` needs the CUDA runtime in the image: without it the server refuses to start, so synth refuses first. */
export function checkCudaRuntime(models: ModelSettings, cudaRuntime: boolean, fail: (path: (string | number)[], message: string) => void): void {
  for (const kind of ["stt", "tts"] as const) {
    if (models[kind].provider === "cuda" && !cudaRuntime) {
      fail(["models", kind, "provider"], 'expected "cpu" or "auto": the image declares no CUDA runtime (image.cudaRuntime), and the server refuses to start a model on cuda without one');
    }
  }
}

/** Where an inference service runs: GPU nodes (with a GPU request) or the system pool, and why. */
export interface GpuPlacement {
  readonly gpu: boolean;
  readonly reason: string;
  /**
   * On GPU nodes although every engine runs on the CPU: stated with cpuEnginesOnGpu, or `auto` with an
   * image that has no CUDA runtime (a GPU billed and left idle: policy rule VS-K8S-016 unless acknowledged).
   */
  readonly enginesOnCpu: boolean;
}

/**
 * The one decision of whether a service asks for a GPU: only when one of its models has a GPU-capable
 * engine set to cuda or auto, or the environment states why CPU engines should hold GPU nodes anyway.
 * `cudaRuntime`: whether the image can run a model on the GPU at all (WorkloadsSettings.image.cudaRuntime).
 */
export function gpuPlacement(models: ModelSettings, key: "inference" | "stt" | "tts", settings: InferenceServiceSettings, cudaRuntime: boolean): GpuPlacement {
  const kinds = key === "inference" ? (["stt", "tts"] as const) : [key];
  const users = kinds.filter((k) => models[k].provider !== "cpu" && !BUILTIN_ENGINES.includes(models[k].engine));
  if (users.length > 0) {
    const reason = users.map((k) => `${k} model ${models[k].engine} is set to ${models[k].provider}`).join("; ");
    return cudaRuntime ? { gpu: true, reason, enginesOnCpu: false } : { gpu: true, reason: `${reason}, but the image has no CUDA runtime: it runs on the CPU`, enginesOnCpu: true };
  }
  if (settings.cpuEnginesOnGpu) return { gpu: true, reason: `CPU engines on GPU nodes, as stated: ${settings.cpuEnginesOnGpu.reason}`, enginesOnCpu: true };
  return { gpu: false, reason: `no engine of this service uses a GPU (${kinds.map((k) => `${models[k].engine}: ${models[k].provider}`).join(", ")})`, enginesOnCpu: false };
}

/** What the workload checks need to know of a node pool. */
export interface PoolView {
  readonly name: string;
  readonly instanceTypes: readonly string[];
}

/**
 * Cross-field checks against the environment's GPU pools (called from the environment schema):
 * the pool exists and no pod asks for more GPUs than its nodes have.
 */
export function checkWorkloadPools(w: WorkloadsSettings, gpuPools: readonly PoolView[], fail: (path: (string | number)[], message: string) => void): void {
  for (const { key, settings } of inferenceServicesOf(w)) {
    if (!gpuPlacement(w.models, key, settings, w.image.cudaRuntime).gpu) {
      if (settings.pool) fail(["workloads", key, "pool"], `expected no GPU pool: no engine of this service uses a GPU, so it runs on the system pool (set a sherpa model's provider to cuda or auto, or state cpuEnginesOnGpu with a reason)`);
      continue;
    }
    const pool = gpuPools.find((p) => p.name === (settings.pool ?? gpuPools[0]?.name));
    if (!pool) {
      fail(["workloads", key, "pool"], `expected one of the environment's GPU pools (${gpuPools.map((p) => `"${p.name}"`).join(", ")})`);
      continue;
    }
    const perNode = pool.instanceTypes.map((t) => GPU_INSTANCE_TYPES[t]?.gpusPerNode).filter((n): n is number => n !== undefined);
    const smallest = Math.min(...perNode);
    if (perNode.length > 0 && settings.gpusPerPod > smallest) {
      fail(["workloads", key, "gpusPerPod"], `expected at most ${smallest}: the smallest node of pool "${pool.name}" has ${smallest} GPU(s)`);
    }
  }
}
