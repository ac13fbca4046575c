/**
 * Which execution provider each model runs on, decided once at start-up from what this machine really
 * has: the onnxruntime that sherpa-onnx-node loads is asked for its providers (OrtApi
 * GetAvailableProviders, the same list sherpa-onnx consults, which silently falls back to CPU when CUDA
 * is not in it), its CUDA provider library is looked for next to it, and the GPU is looked for as device
 * nodes and nvidia-smi. Nothing is assumed: "cuda" without all of them is a start-up error naming what
 * is missing.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import koffi from "koffi";
import {
  EngineConfigError,
  GPU_CAPABLE_ENGINES,
  type EngineConfig,
  type ExecutionProvider,
  type ExecutionProviderSetting,
} from "./config";

/** The onnxruntime that sherpa-onnx-node's prebuilt addon links against ($ORIGIN of the addon). */
export interface OnnxRuntimeInfo {
  library: string;
  version: string;
  /** What the runtime says it was built with, e.g. ["CPUExecutionProvider"]. */
  providers: string[];
  /** Why CUDA cannot run with this runtime; empty when it can. */
  cudaMissing: string[];
}

export interface GpuInfo {
  /** An NVIDIA device this process can open (a /dev/nvidiaN node, or a GPU nvidia-smi lists). */
  usable: boolean;
  /** The pod was handed a GPU (device plugin variables or device nodes), usable or not. */
  held: boolean;
  /** What was seen, for logs and error messages. */
  evidence: string;
}

export interface ExecutionChoice {
  requested: ExecutionProviderSetting;
  provider: ExecutionProvider;
  reason: string;
}

const CUDA_PROVIDER_LIB = "libonnxruntime_providers_cuda.so";
const SHARED_PROVIDER_LIB = "libonnxruntime_providers_shared.so";
/** Index of GetAvailableProviders in the OrtApi function table; the table is append-only across releases. */
const ORT_GET_AVAILABLE_PROVIDERS = 125;
const ORT_RELEASE_AVAILABLE_PROVIDERS = 126;

const CUDA_RUNTIME_HINT =
  "build the image with the CUDA onnxruntime for sherpa-onnx (build argument SHERPA_ONNX_CUDA_LIBS, see inference-image/Dockerfile) on a base image with the CUDA and cuDNN libraries that release needs";
const GPU_HINT =
  "run the pod on a GPU node with a nvidia.com/gpu request and the NVIDIA device plugin (the workloads construct requests one for a model set to cuda or auto)";

let koffiTypes: { base: koffi.IKoffiCType; getApi: koffi.IKoffiCType; version: koffi.IKoffiCType; list: koffi.IKoffiCType; release: koffi.IKoffiCType } | undefined;

/** The directory of the sherpa-onnx platform package (sherpa-onnx-linux-x64, ...), where the addon and its onnxruntime are. */
function sherpaLibraryDir(): string {
  const platform = process.platform === "win32" ? "win" : process.platform;
  return path.dirname(require.resolve(`sherpa-onnx-${platform}-${process.arch}/package.json`));
}

/** Ask an onnxruntime shared library for its version and execution providers. */
function queryOnnxRuntime(library: string): { version: string; providers: string[] } {
  // Anonymous types: koffi's type names are process-wide, and a module evaluated twice in one process (jest
  // gives each test file its own module registry) would otherwise fail with "Duplicate type name".
  koffiTypes ??= {
    base: koffi.struct({ GetApi: "void*", GetVersionString: "void*" }),
    getApi: koffi.proto("void* (uint32_t version)"),
    version: koffi.proto("const char* (void)"),
    list: koffi.proto("void* (_Out_ char*** out, _Out_ int* length)"),
    release: koffi.proto("void* (char** list, int length)"),
  };
  const t = koffiTypes;
  const lib = koffi.load(library);
  const base = koffi.decode(lib.func("void* OrtGetApiBase(void)")(), t.base) as { GetApi: unknown; GetVersionString: unknown };
  const version = koffi.call(base.GetVersionString, t.version) as string;
  // ORT_API_VERSION is the release's minor number; any version up to the runtime's own gets the same table.
  const api = koffi.call(base.GetApi, t.getApi, Number(version.split(".")[1])) as unknown;
  if (!api) throw new EngineConfigError(`onnxruntime ${version} at ${library} refused its own API version`);
  const table = koffi.decode(api, koffi.array("void*", ORT_RELEASE_AVAILABLE_PROVIDERS + 1)) as unknown[];
  const out: unknown[] = [null];
  const length = [0];
  if (koffi.call(table[ORT_GET_AVAILABLE_PROVIDERS], t.list, out, length)) throw new EngineConfigError(`onnxruntime ${version} at ${library} could not list its execution providers`);
  const providers = koffi.decode(out[0], koffi.array("char*", length[0])) as string[];
  koffi.call(table[ORT_RELEASE_AVAILABLE_PROVIDERS], t.release, out[0], length[0]);
  return { version, providers };
}

/** Shared libraries a library needs that the loader cannot find (ldd's "not found"); empty if ldd is absent. */
function unresolvedDependencies(library: string): string[] {
  try {
    const out = execFileSync("ldd", [library], { encoding: "utf8", timeout: 10_000, stdio: ["ignore", "pipe", "ignore"] });
    return out.split("\n").filter((l) => l.includes("=> not found")).map((l) => l.trim().split(/\s+/)[0]);
  } catch {
    return [];
  }
}

/** What the onnxruntime in `dir` (default: sherpa-onnx-node's) can run on, and what CUDA would still need. */
export function inspectOnnxRuntime(dir = sherpaLibraryDir()): OnnxRuntimeInfo {
  const library = path.join(dir, "libonnxruntime.so");
  const { version, providers } = queryOnnxRuntime(library);
  const cudaMissing: string[] = [];
  if (!providers.includes("CUDAExecutionProvider")) {
    cudaMissing.push(`onnxruntime ${version} in ${dir} was built without CUDA (its providers: ${providers.join(", ")})`);
  } else {
    for (const file of [SHARED_PROVIDER_LIB, CUDA_PROVIDER_LIB]) {
      if (!fs.existsSync(path.join(dir, file))) cudaMissing.push(`${file} is missing from ${dir}`);
    }
    const unresolved = fs.existsSync(path.join(dir, CUDA_PROVIDER_LIB)) ? unresolvedDependencies(path.join(dir, CUDA_PROVIDER_LIB)) : [];
    if (unresolved.length > 0) cudaMissing.push(`${CUDA_PROVIDER_LIB} needs ${unresolved.join(", ")}, which the loader cannot find (CUDA/cuDNN libraries)`);
  }
  return { library, version, providers, cudaMissing };
}

/**
 * Whether this process holds an NVIDIA GPU. NVIDIA_VISIBLE_DEVICES is how the device plugin hands one
 * to a container; the device nodes and nvidia-smi are what CUDA itself needs.
 */
export function detectGpu(env: NodeJS.ProcessEnv = process.env, devDir = "/dev"): GpuInfo {
  const seen: string[] = [];
  let devices: string[] = [];
  try {
    devices = fs.readdirSync(devDir).filter((f) => /^nvidia\d+$/.test(f));
  } catch {
    // No /dev to read: no device nodes.
  }
  seen.push(devices.length > 0 ? `device nodes ${devices.map((d) => path.join(devDir, d)).join(", ")}` : `no ${devDir}/nvidia[0-9]* device node`);
  const visible = env.NVIDIA_VISIBLE_DEVICES?.trim() ?? "";
  const assigned = visible !== "" && !["void", "none"].includes(visible.toLowerCase());
  if (visible !== "") seen.push(`NVIDIA_VISIBLE_DEVICES=${visible.slice(0, 80)}`);
  let listed = 0;
  try {
    const out = execFileSync("nvidia-smi", ["-L"], { encoding: "utf8", timeout: 10_000, stdio: ["ignore", "pipe", "ignore"] });
    listed = out.split("\n").filter((l) => l.startsWith("GPU ")).length;
    seen.push(`nvidia-smi lists ${listed} GPU(s)`);
  } catch {
    seen.push("nvidia-smi not available");
  }
  return { usable: devices.length > 0 || listed > 0, held: assigned || devices.length > 0, evidence: seen.join("; ") };
}

/** What the resolution needs to know of the machine; tests hand in other machines. */
export interface Machine {
  /** Called only when a GPU-capable engine may use CUDA: it loads onnxruntime. */
  onnxRuntime: () => OnnxRuntimeInfo;
  gpu: GpuInfo;
}

/** Decide each model's provider; "cuda" where the runtime or the GPU is missing is an EngineConfigError. */
export function resolveExecution(config: EngineConfig, machine: Machine): { stt: ExecutionChoice; tts: ExecutionChoice } {
  const { gpu } = machine;
  let runtime: OnnxRuntimeInfo | undefined;
  const choose = (kind: "stt" | "tts"): ExecutionChoice => {
    const { engine, provider: requested } = config[kind];
    const variable = `${kind.toUpperCase()}_PROVIDER`;
    if (!GPU_CAPABLE_ENGINES.includes(engine)) return { requested, provider: "cpu", reason: `${engine} is a CPU engine` };
    if (requested === "cpu") return { requested, provider: "cpu", reason: `${variable}=cpu` };
    runtime ??= machine.onnxRuntime();
    const missing = [...runtime.cudaMissing.map((m) => `runtime: ${m}`), ...(gpu.usable ? [] : [`GPU: no NVIDIA GPU is visible (${gpu.evidence})`])];
    if (missing.length === 0) return { requested, provider: "cuda", reason: `onnxruntime ${runtime.version} has the CUDA provider and a GPU is visible (${gpu.evidence})` };
    if (requested === "auto") return { requested, provider: "cpu", reason: `${variable}=auto chose cpu: ${missing.join("; ")}` };
    const hints = [runtime.cudaMissing.length > 0 ? `for the runtime, ${CUDA_RUNTIME_HINT}` : "", gpu.usable ? "" : `for the GPU, ${GPU_HINT}`].filter(Boolean);
    throw new EngineConfigError(`${variable}=cuda for ${engine}, but CUDA cannot run here: ${missing.join("; ")}. To fix: ${hints.join("; ")}; or set ${variable}=cpu`);
  };
  return { stt: choose("stt"), tts: choose("tts") };
}

/** The start-up warning for a pod that holds a GPU it does not use; undefined when there is none to give. */
export function idleGpuWarning(choices: { stt: ExecutionChoice; tts: ExecutionChoice }, gpu: GpuInfo): string | undefined {
  if (!gpu.held || choices.stt.provider === "cuda" || choices.tts.provider === "cuda") return undefined;
  return `this pod holds a GPU (${gpu.evidence}) but every engine runs on the CPU (stt: ${choices.stt.reason}; tts: ${choices.tts.reason}): the GPU is idle`;
}
