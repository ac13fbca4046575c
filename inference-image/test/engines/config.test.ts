/** Startup configuration and model directories: every mistake is a clear EngineConfigError, found before serving. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createSpeech, engineConfigFromEnv, EngineConfigError, parseEngineConfig } from "../../src/engines";
import { searchArgs } from "../../src/engines/pocketsphinx";
import { EngineInputError } from "../../src/engines/types";
import { resolveVoice } from "../../src/engines/voices";

jest.setTimeout(120_000);

let scratch: string;
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "engines-config-"));
});
afterAll(() => {
  fs.rmSync(scratch, { recursive: true, force: true });
});

function dirWith(name: string, files: Record<string, string>): string {
  const dir = path.join(scratch, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), content);
  }
  return dir;
}

describe("engineConfigFromEnv", () => {
  test("defaults: built-in engines, one worker per core, queue of 4 per worker", () => {
    const cfg = engineConfigFromEnv({});
    // Live decoding prunes hard; batch uploads less (BENCHMARKS.md, "Real speech").
    expect(cfg.stt).toEqual({ engine: "pocketsphinx", language: "en", provider: "cpu", pocketsphinx: { maxhmmpf: 2000, maxwpf: 10 }, pocketsphinxBatch: { maxhmmpf: 10000, maxwpf: 20 } });
    expect(cfg.tts).toEqual({ engine: "flite", provider: "cpu" });
    expect(cfg.workers).toBe(os.availableParallelism());
    expect(cfg.queueMax).toBe(4 * cfg.workers);
    expect(cfg.streamsPerWorker).toBe(8);
  });

  test("reads every variable", () => {
    const cfg = engineConfigFromEnv({
      STT_ENGINE: "sherpa-whisper",
      STT_MODEL_DIR: "/models/whisper",
      STT_LANGUAGE: "",
      STT_PROVIDER: "AUTO",
      TTS_ENGINE: "sherpa-kokoro",
      TTS_MODEL_DIR: "/models/kokoro",
      TTS_DEFAULT_VOICE: "3",
      TTS_PROVIDER: "cuda",
      WORKERS: "3",
      QUEUE_MAX: "0",
      WORKER_NICE: "5",
      BATCH_WORKERS: "1",
      BATCH_WORKER_NICE: "15",
      STREAMS_PER_WORKER: "2",
      SHERPA_THREADS: "2",
      MODEL_MANIFEST: "Optional",
      POCKETSPHINX_MAXHMMPF: "-1",
      POCKETSPHINX_MAXWPF: "20",
      POCKETSPHINX_DS: "2",
      POCKETSPHINX_TOPN: "2",
      POCKETSPHINX_PL_WINDOW: "0",
      POCKETSPHINX_FWDFLAT: "no",
      POCKETSPHINX_BESTPATH: "true",
      POCKETSPHINX_BATCH_MAXHMMPF: "8000",
      POCKETSPHINX_BATCH_MAXWPF: "-1",
      POCKETSPHINX_BATCH_DS: "1",
      POCKETSPHINX_BATCH_TOPN: "4",
      POCKETSPHINX_BATCH_PL_WINDOW: "5",
      POCKETSPHINX_BATCH_FWDFLAT: "yes",
      POCKETSPHINX_BATCH_BESTPATH: "false",
    });
    expect(cfg).toEqual({
      stt: {
        engine: "sherpa-whisper",
        modelDir: "/models/whisper",
        language: "",
        provider: "auto",
        pocketsphinx: { maxhmmpf: -1, maxwpf: 20, ds: 2, topn: 2, plWindow: 0, fwdflat: false, bestpath: true },
        pocketsphinxBatch: { maxhmmpf: 8000, maxwpf: -1, ds: 1, topn: 4, plWindow: 5, fwdflat: true, bestpath: false },
      },
      tts: { engine: "sherpa-kokoro", modelDir: "/models/kokoro", defaultVoice: "3", provider: "cuda" },
      workers: 3,
      queueMax: 0,
      workerNice: 5,
      batchWorkers: 1,
      batchNice: 15,
      streamsPerWorker: 2,
      sherpaThreads: 2,
      modelManifest: "optional",
    });
  });

  test.each([
    [{ WORKERS: "two" }, /WORKERS: expected a whole number, got "two"/],
    [{ WORKERS: "0" }, /WORKERS: Number must be greater than or equal to 1/],
    [{ STT_ENGINE: "vosk" }, /STT_ENGINE: Invalid enum value.*pocketsphinx.*sherpa-whisper/],
    [{ TTS_ENGINE: "espeak" }, /TTS_ENGINE: Invalid enum value.*flite/],
    [{ STT_ENGINE: "sherpa-whisper" }, /STT_MODEL_DIR is required for STT_ENGINE=sherpa-whisper/],
    [{ TTS_ENGINE: "sherpa-vits" }, /TTS_MODEL_DIR is required for TTS_ENGINE=sherpa-vits/],
    [{ TTS_MODEL_DIR: "/models/x" }, /TTS_MODEL_DIR is not used by the built-in flite engine/],
    [{ WORKER_NICE: "20" }, /WORKER_NICE: Number must be less than or equal to 19/],
    [{ POCKETSPHINX_DS: "9" }, /POCKETSPHINX_DS: Number must be less than or equal to 4/],
    [{ POCKETSPHINX_MAXHMMPF: "lots" }, /POCKETSPHINX_MAXHMMPF: expected a whole number/],
    [{ POCKETSPHINX_FWDFLAT: "maybe" }, /POCKETSPHINX_FWDFLAT: expected true or false, got "maybe"/],
    [{ MODEL_MANIFEST: "skip" }, /MODEL_MANIFEST: Invalid enum value. Expected 'required' \| 'optional'/],
    [{ POCKETSPHINX_BATCH_MAXWPF: "-2" }, /POCKETSPHINX_BATCH_MAXWPF: Number must be greater than or equal to -1/],
    [{ STT_PROVIDER: "gpu" }, /STT_PROVIDER: Invalid enum value. Expected 'cpu' \| 'cuda' \| 'auto'/],
    [{ STT_PROVIDER: "cuda" }, /STT_PROVIDER: pocketsphinx runs on the CPU only and cannot use CUDA: .*sherpa-whisper, sherpa-transducer, sherpa-paraformer/],
    [{ TTS_PROVIDER: "cuda" }, /TTS_PROVIDER: flite runs on the CPU only and cannot use CUDA: .*sherpa-vits, sherpa-kokoro/],
  ])("%j is refused with a message naming the variable", (env, message) => {
    expect(() => engineConfigFromEnv(env)).toThrow(EngineConfigError);
    expect(() => engineConfigFromEnv(env)).toThrow(message);
  });
});

test("pocketsphinx flags: only the settings that are set, booleans as yes/no", () => {
  expect(searchArgs({ maxhmmpf: 2000, maxwpf: 10 })).toEqual(["-maxhmmpf", "2000", "-maxwpf", "10"]);
  expect(searchArgs({ maxhmmpf: -1, maxwpf: -1, ds: 2, fwdflat: false, bestpath: true })).toEqual(["-maxhmmpf", "-1", "-maxwpf", "-1", "-ds", "2", "-fwdflat", "no", "-bestpath", "yes"]);
});

describe("createSpeech refuses bad model directories before serving", () => {
  const sherpa = (stt: Record<string, unknown>) => parseEngineConfig({ stt: stt as never, tts: { engine: "flite" }, workers: 1, modelManifest: "optional" });

  test("a directory that does not exist", async () => {
    await expect(createSpeech(sherpa({ engine: "sherpa-whisper", modelDir: path.join(scratch, "nope") }))).rejects.toThrow(
      /STT_MODEL_DIR=.*nope: cannot read the model directory for sherpa-whisper \(ENOENT\)/,
    );
  });

  test("missing files are listed by their expected names", async () => {
    const dir = dirWith("half-whisper", { "tiny.en-encoder.int8.onnx": "x" });
    await expect(createSpeech(sherpa({ engine: "sherpa-whisper", modelDir: dir }))).rejects.toThrow(
      /missing <name>-decoder\[\.int8\]\.onnx, <name>-tokens\.txt \(found: tiny\.en-encoder\.int8\.onnx\)/,
    );
    const transducer = dirWith("half-transducer", { "encoder.int8.onnx": "x", "tokens.txt": "a 0" });
    await expect(createSpeech(sherpa({ engine: "sherpa-transducer", modelDir: transducer }))).rejects.toThrow(
      /missing decoder\*\[\.int8\]\.onnx, joiner\*\[\.int8\]\.onnx/,
    );
    const kokoro = dirWith("half-kokoro", { "model.onnx": "x" });
    await expect(createSpeech(parseEngineConfig({ stt: { engine: "pocketsphinx" }, tts: { engine: "sherpa-kokoro", modelDir: kokoro }, workers: 1, modelManifest: "optional" }))).rejects.toThrow(
      /TTS_MODEL_DIR=.*the sherpa-kokoro model directory is missing voices\.bin, tokens\.txt, espeak-ng-data\//,
    );
  });

  test("files that are not ONNX models are named, before any native code reads them", async () => {
    const dir = dirWith("bad-whisper", { "tiny.en-encoder.onnx": "not onnx", "tiny.en-decoder.onnx": "not onnx", "tiny.en-tokens.txt": "a 0\n" });
    await expect(createSpeech(sherpa({ engine: "sherpa-whisper", modelDir: dir }))).rejects.toThrow(
      /STT_MODEL_DIR=.*bad-whisper: not a sherpa-whisper model sherpa-onnx can load: tiny\.en-encoder\.onnx: not an ONNX model \(.*\); tiny\.en-decoder\.onnx: not an ONNX model/,
    );
    const vits = dirWith("bad-vits", { "voice.onnx": "garbage", "tokens.txt": "a 0\n" });
    await expect(
      createSpeech(parseEngineConfig({ stt: { engine: "pocketsphinx" }, tts: { engine: "sherpa-vits", modelDir: vits }, workers: 1, modelManifest: "optional" })),
    ).rejects.toThrow(/TTS_MODEL_DIR=.*bad-vits: .*voice\.onnx: not an ONNX model/);
  });

  test("a multilingual language setting on an English-only Whisper model is refused", async () => {
    const dir = dirWith("en-whisper", { "tiny.en-encoder.onnx": "x", "tiny.en-decoder.onnx": "x", "tiny.en-tokens.txt": "a 0\n" });
    await expect(createSpeech(sherpa({ engine: "sherpa-whisper", modelDir: dir, language: "de" }))).rejects.toThrow(
      /STT_LANGUAGE=de: the Whisper model in .* is English-only/,
    );
  });

  test("pocketsphinx: missing model files name the Debian packages; a malformed model is refused", async () => {
    const empty = dirWith("ps-empty", {});
    await expect(createSpeech(parseEngineConfig({ stt: { engine: "pocketsphinx", modelDir: empty }, tts: { engine: "flite" }, workers: 1 }))).rejects.toThrow(
      /pocketsphinx model files missing in .*ps-empty: en-us\/mdef, .*cmudict-en-us\.dict; install them with: apt-get install libpocketsphinx3 pocketsphinx-en-us/,
    );
    const garbage = dirWith(
      "ps-garbage",
      Object.fromEntries(["en-us/mdef", "en-us/means", "en-us/variances", "en-us/transition_matrices", "en-us/feat.params", "en-us.lm.bin", "cmudict-en-us.dict"].map((f) => [f, "garbage"])),
    );
    await expect(createSpeech(parseEngineConfig({ stt: { engine: "pocketsphinx", modelDir: garbage }, tts: { engine: "flite" }, workers: 1 }))).rejects.toThrow(
      EngineConfigError,
    );
  });

  test("an unknown default Flite voice is refused at start", async () => {
    await expect(createSpeech(parseEngineConfig({ stt: { engine: "pocketsphinx" }, tts: { engine: "flite", defaultVoice: "alloy" }, workers: 1 }))).rejects.toThrow(
      /TTS_DEFAULT_VOICE: "alloy" is not a Flite voice/,
    );
  });
});

describe("resolveVoice", () => {
  const flite = ["slt", "rms", "awb", "kal16", "kal"];
  test.each([
    [undefined, "slt"],
    ["RMS", "rms"],
    ["onyx", "rms"],
    ["alloy", "slt"],
    ["aura-orion-en", "rms"],
    ["aura-2-thalia-en", "slt"],
    ["aura-2-someone-new-en", "slt"],
  ])("%s → %s on Flite", (requested, voice) => {
    expect(resolveVoice(requested, flite, "slt")).toBe(voice);
  });
  test("aliases use the default voice on models without Flite voices; unknown names are refused", () => {
    expect(resolveVoice("onyx", ["0", "1"], "1")).toBe("1");
    expect(resolveVoice("0", ["0", "1"], "1")).toBe("0");
    expect(() => resolveVoice("darth", flite, "slt")).toThrow(EngineInputError);
    expect(() => resolveVoice("darth", flite, "slt")).toThrow(/unknown voice "darth"; known voices: slt, rms/);
  });
});
