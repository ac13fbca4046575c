/**
 * Execution providers: what the onnxruntime shipped with sherpa-onnx-node really offers (asked through
 * its C API), GPU detection, and the start-up decision for cpu / cuda / auto.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createSpeech, EngineConfigError, parseEngineConfig } from "../../src/engines";
import { detectGpu, idleGpuWarning, inspectOnnxRuntime, resolveExecution, type GpuInfo, type OnnxRuntimeInfo } from "../../src/engines/providers";

jest.setTimeout(60_000);

let scratch: string;
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "engines-providers-"));
});
afterAll(() => {
  fs.rmSync(scratch, { recursive: true, force: true });
});

const noGpu: GpuInfo = { usable: false, held: false, evidence: "no /dev/nvidia[0-9]* device node; nvidia-smi not available" };
const gpu: GpuInfo = { usable: true, held: true, evidence: "device nodes /dev/nvidia0" };
const cudaRuntime: OnnxRuntimeInfo = { library: "/x/libonnxruntime.so", version: "1.28.2", providers: ["CUDAExecutionProvider", "CPUExecutionProvider"], cudaMissing: [] };
const whisper = (provider: "cpu" | "cuda" | "auto") =>
  parseEngineConfig({ stt: { engine: "sherpa-whisper", modelDir: path.join(scratch, "no-such-model"), provider }, tts: { engine: "flite" }, workers: 1 });

describe("inspectOnnxRuntime asks the runtime itself", () => {
  test("sherpa-onnx-node's bundled onnxruntime offers the CPU provider only", () => {
    const info = inspectOnnxRuntime();
    expect(info.version).toMatch(/^1\.\d+\.\d+$/);
    expect(info.providers).toContain("CPUExecutionProvider");
    expect(info.providers).not.toContain("CUDAExecutionProvider");
    expect(info.cudaMissing).toEqual([expect.stringMatching(/onnxruntime 1\.\d+\.\d+ in .*sherpa-onnx-linux-x64 was built without CUDA \(its providers: CPUExecutionProvider\)/)]);
  });

  test("asks again from a second copy of the module in the same process (koffi's type names are process-wide)", () => {
    // Each jest test file, and any bundler or hot reload, evaluates the module afresh while koffi stays loaded.
    let again: typeof import("../../src/engines/providers") | undefined;
    jest.isolateModules(() => {
      again = jest.requireActual<typeof import("../../src/engines/providers")>("../../src/engines/providers");
    });
    expect(again!.inspectOnnxRuntime).not.toBe(inspectOnnxRuntime);
    expect(again!.inspectOnnxRuntime().providers).toEqual(inspectOnnxRuntime().providers);
  });

  test("a CUDA-built onnxruntime without its provider libraries is not taken for a working one", () => {
    // onnxruntime-node's Linux build is compiled with CUDA, but its provider libraries are a separate download (skipped here).
    const dir = path.join(scratch, "ort-cuda-build");
    fs.mkdirSync(dir);
    const real = path.join(path.dirname(require.resolve("onnxruntime-node/package.json")), "bin/napi-v6/linux/x64/libonnxruntime.so.1");
    fs.symlinkSync(real, path.join(dir, "libonnxruntime.so"));
    const info = inspectOnnxRuntime(dir);
    expect(info.providers).toContain("CUDAExecutionProvider");
    expect(info.cudaMissing).toEqual([
      `libonnxruntime_providers_shared.so is missing from ${dir}`,
      `libonnxruntime_providers_cuda.so is missing from ${dir}`,
    ]);
  });
});

describe("detectGpu", () => {
  const devWith = (name: string, files: string[]) => {
    const dir = path.join(scratch, name);
    fs.mkdirSync(dir);
    for (const f of files) fs.writeFileSync(path.join(dir, f), "");
    return dir;
  };

  test("a device node makes the GPU usable and held", () => {
    const dev = devWith("dev-gpu", ["nvidia0", "nvidiactl", "null"]);
    expect(detectGpu({}, dev)).toMatchObject({ usable: true, held: true, evidence: expect.stringContaining(`device nodes ${dev}/nvidia0`) });
  });

  test("NVIDIA_VISIBLE_DEVICES without device nodes: held, not usable; void or unset: neither", () => {
    const dev = devWith("dev-none", ["null"]);
    expect(detectGpu({ NVIDIA_VISIBLE_DEVICES: "all" }, dev)).toMatchObject({ usable: false, held: true, evidence: expect.stringContaining("NVIDIA_VISIBLE_DEVICES=all") });
    expect(detectGpu({ NVIDIA_VISIBLE_DEVICES: "void" }, dev)).toMatchObject({ usable: false, held: false });
    expect(detectGpu({}, dev)).toMatchObject({ usable: false, held: false, evidence: expect.stringContaining(`no ${dev}/nvidia[0-9]* device node`) });
  });
});

describe("resolveExecution", () => {
  const here = { onnxRuntime: () => inspectOnnxRuntime(), gpu: noGpu };

  test("CPU engines are cpu whatever is asked (auto), and never load onnxruntime", () => {
    const cfg = parseEngineConfig({ stt: { engine: "pocketsphinx", provider: "auto" }, tts: { engine: "flite", provider: "auto" }, workers: 1 });
    const choices = resolveExecution(cfg, { onnxRuntime: () => { throw new Error("must not be asked"); }, gpu });
    expect(choices.stt).toEqual({ requested: "auto", provider: "cpu", reason: "pocketsphinx is a CPU engine" });
    expect(choices.tts).toEqual({ requested: "auto", provider: "cpu", reason: "flite is a CPU engine" });
  });

  test("auto on this machine chooses cpu and says why", () => {
    const { stt } = resolveExecution(whisper("auto"), here);
    expect(stt.provider).toBe("cpu");
    expect(stt.reason).toMatch(/^STT_PROVIDER=auto chose cpu: runtime: onnxruntime .* was built without CUDA .*; GPU: no NVIDIA GPU is visible/);
  });

  test("cuda on this machine is refused, naming the runtime and the GPU and how to get them", () => {
    expect(() => resolveExecution(whisper("cuda"), here)).toThrow(EngineConfigError);
    expect(() => resolveExecution(whisper("cuda"), here)).toThrow(
      /STT_PROVIDER=cuda for sherpa-whisper, but CUDA cannot run here: runtime: .*built without CUDA.*; GPU: no NVIDIA GPU is visible .*To fix: for the runtime, build the image with .*SHERPA_ONNX_CUDA_LIBS.*; for the GPU, run the pod on a GPU node with a nvidia.com\/gpu request/,
    );
  });

  test("cuda with the runtime but no GPU names the GPU only", () => {
    expect(() => resolveExecution(whisper("cuda"), { onnxRuntime: () => cudaRuntime, gpu: noGpu })).toThrow(/CUDA cannot run here: GPU: no NVIDIA GPU is visible \([^)]*\)\. To fix: for the GPU, [^;]*; or set STT_PROVIDER=cpu$/);
  });

  test("cuda and auto run on CUDA where the runtime has it and a GPU is there", () => {
    for (const requested of ["cuda", "auto"] as const) {
      expect(resolveExecution(whisper(requested), { onnxRuntime: () => cudaRuntime, gpu }).stt).toEqual({
        requested,
        provider: "cuda",
        reason: "onnxruntime 1.28.2 has the CUDA provider and a GPU is visible (device nodes /dev/nvidia0)",
      });
    }
  });

  test("a held GPU with every engine on CPU is a warning; one engine on CUDA is none", () => {
    const cpu = resolveExecution(whisper("cpu"), here);
    expect(idleGpuWarning(cpu, { ...noGpu, held: true, evidence: "NVIDIA_VISIBLE_DEVICES=all" })).toMatch(/holds a GPU \(NVIDIA_VISIBLE_DEVICES=all\) but every engine runs on the CPU .*the GPU is idle/);
    expect(idleGpuWarning(cpu, noGpu)).toBeUndefined();
    expect(idleGpuWarning(resolveExecution(whisper("cuda"), { onnxRuntime: () => cudaRuntime, gpu }), gpu)).toBeUndefined();
  });
});

test("createSpeech refuses cuda before looking at the model or starting a worker", async () => {
  await expect(createSpeech(whisper("cuda"))).rejects.toThrow(/STT_PROVIDER=cuda for sherpa-whisper, but CUDA cannot run here: runtime: /);
});
