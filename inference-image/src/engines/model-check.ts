/**
 * What sherpa-onnx will read from a model directory, checked before it loads anything: sherpa-onnx
 * reports a missing metadata key or a malformed tokens file by printing a line and exiting the whole
 * process (and feeds inputs by position, so a wrong graph fails later, inside a request). Each rule
 * below is one of those reads, from sherpa-onnx 1.13's sources (offline-whisper-model.cc,
 * offline-transducer-nemo-model.cc, offline-transducer-model.cc, offline-paraformer-model.cc,
 * offline-tts-vits-model.cc / -impl.h, offline-tts-kokoro-model.cc / -impl.h, symbol-table.cc), so a
 * model it would reject is refused at start with the file and what was expected.
 */
import fs from "node:fs";
import path from "node:path";
import { EngineConfigError, type EngineConfig } from "./config";
import type { SherpaEngine } from "./model-files";
import { OnnxFormatError, readOnnxHeader, type OnnxHeader } from "./onnx-header";

const INT64 = 7;
const INT32 = 6;

/** Collects the problems of one model directory; each names its file. */
class Findings {
  readonly problems: string[] = [];

  constructor(readonly dir: string) {}

  add(file: string, problem: string): void {
    this.problems.push(`${path.relative(this.dir, file) || file}: ${problem}`);
  }

  /** The header of an ONNX file, or undefined (and a finding) when it is not one. */
  onnx(file: string): OnnxHeader | undefined {
    try {
      return readOnnxHeader(file);
    } catch (err) {
      if (!(err instanceof OnnxFormatError)) throw err;
      this.add(file, `not an ONNX model (${err.message})`);
      return undefined;
    }
  }

  metadata(file: string, h: OnnxHeader, keys: string[], what: string): boolean {
    const missing = keys.filter((k) => (h.metadata[k] ?? "") === "");
    if (missing.length > 0) this.add(file, `metadata ${missing.map((k) => `"${k}"`).join(", ")} missing: sherpa-onnx's ${what} needs ${keys.join(", ")}`);
    return missing.length === 0;
  }

  integers(file: string, h: OnnxHeader, keys: string[]): void {
    for (const k of keys) {
      const v = h.metadata[k];
      if (v !== undefined && v !== "" && !/^\d+$/.test(v.trim())) this.add(file, `metadata "${k}" is "${v.slice(0, 40)}": expected a whole number >= 0`);
    }
  }

  io(file: string, h: OnnxHeader, inputs: number | [number, number], outputs: number, what: string): boolean {
    const [min, max] = typeof inputs === "number" ? [inputs, inputs] : inputs;
    const ok = h.inputs.length >= min && h.inputs.length <= max && h.outputs.length >= outputs;
    if (!ok) {
      const expected = `${min === max ? min : `${min}-${max}`} input(s) and at least ${outputs} output(s)`;
      this.add(file, `${h.inputs.length} input(s) (${h.inputs.map((i) => i.name).join(", ")}) and ${h.outputs.length} output(s): sherpa-onnx's ${what} takes ${expected}`);
    }
    return ok;
  }

  elemType(file: string, h: OnnxHeader, index: number, types: number[], what: string): void {
    const input = h.inputs[index];
    if (input && !types.includes(input.elemType)) this.add(file, `input ${index} "${input.name}" has element type ${input.elemType}: ${what}`);
  }
}

/** A tokens file as sherpa-onnx's ReadTokens reads it: "<symbol> <id>" a line, or "<id>" for a space. */
function readTokens(f: Findings, file: string): Map<string, number> | undefined {
  const tokens = new Map<string, number>();
  const lines = fs.readFileSync(file, "utf8").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    const m = /^(?:(\S+)\s+)?(-?\d+)$/.exec(line);
    if (!m) {
      f.add(file, `line ${i + 1} "${line.slice(0, 40)}": expected "<token> <id>"`);
      return undefined;
    }
    tokens.set(m[1] ?? " ", Number(m[2]));
  }
  if (tokens.size === 0) f.add(file, "no tokens");
  return tokens;
}

const NEMO_TYPES = ["EncDecRNNTBPEModel", "EncDecHybridRNNTCTCBPEModel"];
const ICEFALL_TYPES = ["conformer", "zipformer", "zipformer2"];

function checkWhisper(f: Findings, files: Record<string, string | undefined>, config: EngineConfig): void {
  const encoder = files["<name>-encoder[.int8].onnx"]!;
  const decoder = files["<name>-decoder[.int8].onnx"]!;
  // sherpa-onnx's naming: English-only Whisper models are "<name>.en-encoder...", and decode English alone.
  if (/\.en-encoder/.test(path.basename(encoder)) && config.stt.language !== "en") {
    throw new EngineConfigError(`STT_LANGUAGE=${config.stt.language}: the Whisper model in ${f.dir} is English-only (.en)`);
  }
  const enc = f.onnx(encoder);
  if (enc) {
    f.io(encoder, enc, 1, 2, "Whisper encoder (mel -> n_layer_cross_k, n_layer_cross_v)");
    const keys = ["n_mels", "n_text_layer", "n_text_ctx", "n_text_state", "n_vocab", "sot", "eot", "blank_id", "translate", "transcribe", "is_multilingual", "no_timestamps", "no_speech", "sot_sequence"];
    if (f.metadata(encoder, enc, keys, "Whisper encoder")) f.integers(encoder, enc, keys.filter((k) => k !== "sot_sequence"));
    if (enc.metadata.is_multilingual && enc.metadata.is_multilingual !== "0") {
      if (f.metadata(encoder, enc, ["all_language_tokens", "all_language_codes"], "multilingual Whisper encoder")) {
        const codes = enc.metadata.all_language_codes.split(",");
        const language = config.stt.language;
        if (language !== "" && !codes.includes(language)) f.add(encoder, `STT_LANGUAGE=${language} is not one of the model's languages (${codes.slice(0, 20).join(", ")}${codes.length > 20 ? ", ..." : ""})`);
      }
    }
  }
  const dec = f.onnx(decoder);
  if (dec && f.io(decoder, dec, 6, 3, "Whisper decoder (tokens, self k/v caches, cross k/v, offset -> logits, caches)")) {
    f.elemType(decoder, dec, 0, [INT64], "expected int64 token ids");
  }
}

function checkTransducer(f: Findings, files: Record<string, string | undefined>): void {
  const encoder = files["encoder*[.int8].onnx"]!;
  const decoder = files["decoder*[.int8].onnx"]!;
  const joiner = files["joiner*[.int8].onnx"]!;
  const [enc, dec, join] = [f.onnx(encoder), f.onnx(decoder), f.onnx(joiner)];
  const tokens = readTokens(f, files["tokens.txt"]!);
  if (!enc) return;
  if (!f.metadata(encoder, enc, ["model_type"], "offline transducer (to tell NeMo from icefall models)")) return;
  const type = enc.metadata.model_type;
  if (NEMO_TYPES.includes(type)) {
    const keys = ["vocab_size", "subsampling_factor", "pred_rnn_layers", "pred_hidden"];
    if (f.metadata(encoder, enc, keys, "NeMo transducer encoder")) f.integers(encoder, enc, keys);
    f.io(encoder, enc, 2, 2, "NeMo transducer encoder (features, lengths -> outputs, lengths)");
    if (dec) f.io(decoder, dec, [2, 8], 2, "NeMo transducer decoder (targets, target_length, states)");
    if (join) f.io(joiner, join, 2, 1, "NeMo transducer joiner");
    const vocab = Number(enc.metadata.vocab_size) + 1;
    if (tokens && Number.isInteger(vocab)) {
      if (!tokens.has("<blk>")) f.add(files["tokens.txt"]!, "no <blk> token: NeMo transducers end their vocabulary with it");
      else if (tokens.get("<blk>") !== vocab - 1) f.add(files["tokens.txt"]!, `<blk> has id ${tokens.get("<blk>")}: expected the last id, ${vocab - 1} (vocab_size ${vocab - 1} in the encoder's metadata, plus the blank)`);
      if (tokens.size !== vocab) f.add(files["tokens.txt"]!, `${tokens.size} tokens: expected ${vocab} (the encoder's vocab_size plus the blank)`);
    }
  } else if (ICEFALL_TYPES.includes(type)) {
    f.io(encoder, enc, 2, 2, "icefall transducer encoder (x, x_lens -> encoder_out, encoder_out_lens); a streaming model has more inputs and is not supported");
    if (dec && f.io(decoder, dec, 1, 1, "icefall transducer decoder")) {
      if (f.metadata(decoder, dec, ["vocab_size", "context_size"], "icefall transducer decoder")) f.integers(decoder, dec, ["vocab_size", "context_size"]);
    }
    if (join) f.io(joiner, join, 2, 1, "icefall transducer joiner");
  } else {
    f.add(encoder, `metadata "model_type" is "${type}": sherpa-transducer runs offline transducers (${[...NEMO_TYPES, ...ICEFALL_TYPES].join(", ")})`);
  }
}

function checkParaformer(f: Findings, files: Record<string, string | undefined>): void {
  const model = files["model[.int8].onnx"]!;
  const h = f.onnx(model);
  const tokens = readTokens(f, files["tokens.txt"]!);
  if (tokens && !tokens.has("</s>")) f.add(files["tokens.txt"]!, "no </s> token: Paraformer's decoder stops at it");
  if (!h) return;
  if (f.io(model, h, 2, 2, "Paraformer (speech, speech_lengths -> logits, token_num)")) f.elemType(model, h, 1, [INT32, INT64], "expected integer lengths");
  const keys = ["vocab_size", "lfr_window_size", "lfr_window_shift", "neg_mean", "inv_stddev"];
  if (!f.metadata(model, h, keys, "Paraformer")) return;
  f.integers(model, h, ["vocab_size", "lfr_window_size", "lfr_window_shift"]);
  const dim = 80 * Number(h.metadata.lfr_window_size);
  for (const k of ["neg_mean", "inv_stddev"]) {
    const n = h.metadata[k].split(",").length;
    if (n !== dim) f.add(model, `metadata "${k}" has ${n} values: expected ${dim} (80 features x lfr_window_size)`);
  }
}

function checkVits(f: Findings, files: Record<string, string | undefined>): void {
  const model = files["<voice>.onnx"]!;
  const h = f.onnx(model);
  readTokens(f, files["tokens.txt"]!);
  if (!h) return;
  if (f.metadata(model, h, ["sample_rate", "n_speakers", "language", "comment"], "VITS")) f.integers(model, h, ["sample_rate", "n_speakers"]);
  f.io(model, h, [3, 7], 1, "VITS (token ids, lengths, scales[, speaker] -> audio)");
  const characters = h.metadata.frontend === "characters";
  if (!characters && !files["espeak-ng-data/"] && !files["lexicon.txt"]) {
    f.add(model, "the model turns text into phonemes, but the directory has neither espeak-ng-data/ nor lexicon.txt (sherpa-onnx needs one of them)");
  }
}

function checkKokoro(f: Findings, files: Record<string, string | undefined>): void {
  const model = files["model[.int8].onnx"]!;
  const voices = files["voices.bin"]!;
  const h = f.onnx(model);
  readTokens(f, files["tokens.txt"]!);
  if (!h) return;
  f.io(model, h, 3, 1, "Kokoro (tokens, style, speed -> audio)");
  const keys = ["sample_rate", "n_speakers", "has_espeak", "style_dim"];
  if (!f.metadata(model, h, keys, "Kokoro")) return;
  f.integers(model, h, ["sample_rate", "n_speakers", "has_espeak", "version"]);
  const dims = h.metadata.style_dim.split(",").map(Number);
  if (dims.length !== 3 || dims[1] !== 1 || dims.some((d) => !Number.isInteger(d) || d <= 0)) {
    f.add(model, `metadata "style_dim" is "${h.metadata.style_dim}": expected three positive integers with 1 in the middle`);
    return;
  }
  const expected = dims[0] * dims[2] * Number(h.metadata.n_speakers) * 4;
  const actual = fs.statSync(voices).size;
  if (actual !== expected) f.add(voices, `${actual} bytes: expected ${expected} (style_dim ${dims.join("x")} x ${h.metadata.n_speakers} speakers x 4-byte floats)`);
  if (Number(h.metadata.version ?? 1) >= 2 && !files["lexicon-us-en.txt"]) f.add(model, "a multilingual Kokoro (version >= 2) needs lexicon-us-en.txt beside it");
}

const CHECKS: Record<SherpaEngine, (f: Findings, files: Record<string, string | undefined>, config: EngineConfig) => void> = {
  "sherpa-whisper": checkWhisper,
  "sherpa-transducer": checkTransducer,
  "sherpa-paraformer": checkParaformer,
  "sherpa-vits": checkVits,
  "sherpa-kokoro": checkKokoro,
};

/** Refuse, naming each file and what was expected, a model whose files sherpa-onnx would reject. */
export function checkModelContents(engine: SherpaEngine, dir: string, files: Record<string, string | undefined>, envName: string, config: EngineConfig): void {
  const f = new Findings(dir);
  CHECKS[engine](f, files, config);
  if (f.problems.length > 0) throw new EngineConfigError(`${envName}=${dir}: not a ${engine} model sherpa-onnx can load: ${f.problems.join("; ")}`);
}
