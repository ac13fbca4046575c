/**
 * Start-up refusals of mounted models, each kind of failure once: a model changed after import
 * (tampered, truncated, a file swapped in, another engine's), no manifest, and files sherpa-onnx would
 * reject (missing metadata, wrong inputs, a tokens file that does not fit, a voices file of the wrong size,
 * a graph onnxruntime refuses). Every message names the file and what was expected.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createSpeech, EngineConfigError, parseEngineConfig, type EngineConfig } from "../../src/engines";
import { onnx } from "onnx-proto";
import { MANIFEST_FILE } from "../../src/engines/manifest";
import { importModel } from "../../src/model-import/import";
import { onnxModel, node, tensor, writeKokoro, writeParaformer, writeTransducer, writeVits, writeWhisper } from "./sherpa-models";

jest.setTimeout(120_000);

let scratch: string;
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "model-check-"));
});
afterAll(() => {
  fs.rmSync(scratch, { recursive: true, force: true });
});

const stt = (engine: EngineConfig["stt"]["engine"], modelDir: string, modelManifest: "required" | "optional" = "required") =>
  parseEngineConfig({ stt: { engine, modelDir }, tts: { engine: "flite" }, workers: 1, modelManifest });
const tts = (engine: EngineConfig["tts"]["engine"], modelDir: string, modelManifest: "required" | "optional" = "required") =>
  parseEngineConfig({ stt: { engine: "pocketsphinx" }, tts: { engine, modelDir }, workers: 1, modelManifest });

async function refusal(config: EngineConfig): Promise<string> {
  const err = await createSpeech(config).then(
    (speech) => speech.close().then(() => new Error("the server started")),
    (e: Error) => e,
  );
  expect(err).toBeInstanceOf(EngineConfigError);
  return err.message;
}

let n = 0;
const fresh = (name: string) => path.join(scratch, `${name}-${n++}`);

async function stagedWhisper(): Promise<string> {
  const out = fresh("whisper-staged");
  await importModel({ source: writeWhisper(fresh("whisper-src")), engine: "sherpa-whisper", out, licence: "MIT", load: false });
  return out;
}

describe("a model changed after import is refused at start", () => {
  test("tampered: one byte of the encoder flipped", async () => {
    const dir = await stagedWhisper();
    const encoder = path.join(dir, "tiny-encoder.onnx");
    const bytes = fs.readFileSync(encoder);
    bytes[bytes.length - 3] ^= 0xff;
    fs.writeFileSync(encoder, bytes);
    expect(await refusal(stt("sherpa-whisper", dir))).toMatch(
      /^STT_MODEL_DIR=.*: the model does not match its manifest \(changed since import\?\): tiny-encoder\.onnx has SHA-256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}$/,
    );
  });

  test("truncated, or a file swapped in that the engine would load instead", async () => {
    const dir = await stagedWhisper();
    fs.truncateSync(path.join(dir, "tiny-tokens.txt"), 3);
    // int8 weights are preferred: a new one beside the imported file would be loaded instead of it.
    fs.copyFileSync(path.join(dir, "tiny-decoder.onnx"), path.join(dir, "tiny-decoder.int8.onnx"));
    const message = await refusal(stt("sherpa-whisper", dir));
    expect(message).toMatch(/tiny-tokens\.txt has 3 bytes, the manifest says \d+/);
    expect(message).toMatch(/tiny-decoder\.int8\.onnx is not in the manifest/);
  });

  test("a manifest for another engine, and none at all", async () => {
    const dir = await stagedWhisper();
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST_FILE), "utf8")) as Record<string, unknown>;
    fs.writeFileSync(path.join(dir, MANIFEST_FILE), JSON.stringify({ ...manifest, engine: "sherpa-paraformer" }));
    expect(await refusal(stt("sherpa-whisper", dir))).toMatch(/the manifest is for sherpa-paraformer, but the configured engine is sherpa-whisper/);
    fs.writeFileSync(path.join(dir, MANIFEST_FILE), JSON.stringify({ ...manifest, files: [{ path: "../etc/passwd", bytes: 1, sha256: "0".repeat(64) }] }));
    expect(await refusal(stt("sherpa-whisper", dir))).toMatch(/model-manifest\.json: field "files\.0\.path": expected a path inside the model directory/);
    fs.rmSync(path.join(dir, MANIFEST_FILE));
    expect(await refusal(stt("sherpa-whisper", dir))).toMatch(/no model-manifest\.json: import the model with the model-import command .* or set MODEL_MANIFEST=optional/);
  });
});

describe("files sherpa-onnx would reject are refused with the file and what it needs", () => {
  test("a Whisper encoder without a metadata key (sherpa-onnx would print a line and exit the process)", async () => {
    const dir = writeWhisper(fresh("whisper-no-mels"), { dropMetadata: "n_mels" });
    expect(await refusal(stt("sherpa-whisper", dir, "optional"))).toMatch(
      /^STT_MODEL_DIR=.*: not a sherpa-whisper model sherpa-onnx can load: tiny-encoder\.onnx: metadata "n_mels" missing: sherpa-onnx's Whisper encoder needs n_mels, n_text_layer, .*sot_sequence$/,
    );
  });

  test("wrong inputs: an encoder where the decoder should be", async () => {
    const dir = writeWhisper(fresh("whisper-swapped"));
    fs.copyFileSync(path.join(dir, "tiny-encoder.onnx"), path.join(dir, "tiny-decoder.onnx"));
    expect(await refusal(stt("sherpa-whisper", dir, "optional"))).toMatch(
      /tiny-decoder\.onnx: 1 input\(s\) \(mel\) and 2 output\(s\): sherpa-onnx's Whisper decoder \(tokens, self k\/v caches, cross k\/v, offset -> logits, caches\) takes 6 input\(s\)/,
    );
  });

  test("a language the Whisper model does not have", async () => {
    const dir = writeWhisper(fresh("whisper-lang"));
    const config = parseEngineConfig({ stt: { engine: "sherpa-whisper", modelDir: dir, language: "fr" }, tts: { engine: "flite" }, workers: 1, modelManifest: "optional" });
    expect(await refusal(config)).toMatch(/tiny-encoder\.onnx: STT_LANGUAGE=fr is not one of the model's languages \(en, de\)/);
  });

  test("a transducer whose tokens file lacks the blank its encoder's vocabulary ends with", async () => {
    const dir = writeTransducer(fresh("transducer-no-blank"));
    fs.writeFileSync(path.join(dir, "tokens.txt"), "<unk> 0\n▁hello 1\n▁world 2\n");
    expect(await refusal(stt("sherpa-transducer", dir, "optional"))).toMatch(
      /tokens\.txt: no <blk> token: NeMo transducers end their vocabulary with it; tokens\.txt: 3 tokens: expected 4 \(the encoder's vocab_size plus the blank\)/,
    );
  });

  test("a missing tokens.txt, and a tokens file sherpa-onnx cannot parse", async () => {
    const dir = writeParaformer(fresh("paraformer-no-tokens"));
    fs.rmSync(path.join(dir, "tokens.txt"));
    expect(await refusal(stt("sherpa-paraformer", dir, "optional"))).toMatch(/the sherpa-paraformer model directory is missing tokens\.txt \(found: model\.int8\.onnx\)/);
    const bad = writeParaformer(fresh("paraformer-bad-tokens"), { tokens: "<blank> 0\nhello world 1\n" });
    expect(await refusal(stt("sherpa-paraformer", bad, "optional"))).toMatch(/tokens\.txt: line 2 "hello world 1": expected "<token> <id>"/);
  });

  test("Paraformer without its CMVN metadata", async () => {
    const dir = writeParaformer(fresh("paraformer-no-cmvn"), { dropMetadata: "neg_mean" });
    expect(await refusal(stt("sherpa-paraformer", dir, "optional"))).toMatch(/model\.int8\.onnx: metadata "neg_mean" missing: sherpa-onnx's Paraformer needs vocab_size, lfr_window_size, lfr_window_shift, neg_mean, inv_stddev/);
  });

  test("a Kokoro voices.bin of the wrong size, and a VITS model without a speaker count", async () => {
    const kokoro = writeKokoro(fresh("kokoro-voices"), { voicesBytes: 1000 });
    expect(await refusal(tts("sherpa-kokoro", kokoro, "optional"))).toMatch(/voices\.bin: 1000 bytes: expected 16320 \(style_dim 510x1x4 x 2 speakers x 4-byte floats\)/);
    const vits = writeVits(fresh("vits-no-speakers"), { dropMetadata: "n_speakers" });
    expect(await refusal(tts("sherpa-vits", vits, "optional"))).toMatch(/TTS_MODEL_DIR=.*tiny-vits\.onnx: metadata "n_speakers" missing: sherpa-onnx's VITS needs sample_rate, n_speakers, language, comment/);
  });

  test("a graph onnxruntime refuses is reported with its reason and the directory, and this process survives it", async () => {
    const dir = writeVits(fresh("vits-bad-graph"));
    const { INT64, FLOAT } = onnx.TensorProto.DataType;
    const graph = onnxModel({
      inputs: [["x", INT64, [1, "L"]], ["x_length", INT64, [1]], ["noise_scale", FLOAT, [1]], ["length_scale", FLOAT, [1]], ["noise_scale_w", FLOAT, [1]], ["sid", INT64, [1]]],
      outputs: [["y", FLOAT, [1, 1, "n"]]],
      // int64 + float: a type error onnxruntime finds when it loads the graph.
      nodes: [node("Add", ["x_length", "noise_scale"], ["y"])],
      initializers: [tensor("unused", FLOAT, [1], [0])],
      metadata: { comment: "vctk", language: "English", n_speakers: 2, sample_rate: 16000 },
    });
    fs.writeFileSync(path.join(dir, "tiny-vits.onnx"), graph);
    expect(await refusal(tts("sherpa-vits", dir, "optional"))).toMatch(
      /the mounted model \(TTS_MODEL_DIR=.*vits-bad-graph-\d+\) could not be loaded \((SIGABRT|exit \d+)\): Load model from .*tiny-vits\.onnx failed:Type Error: .*Add/,
    );
  });
});
