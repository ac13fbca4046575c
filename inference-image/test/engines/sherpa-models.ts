/**
 * Tiny models for every sherpa-* engine, written by the tests themselves (no weights can be downloaded
 * here, and none are committed). Each has exactly the inputs, outputs, metadata and side files that
 * sherpa-onnx 1.13 reads for its kind (names and keys from its sources: offline-whisper-model.cc,
 * offline-transducer-nemo-model.cc, offline-paraformer-model.cc, offline-tts-vits-model.cc,
 * offline-tts-kokoro-model.cc), and an output known in advance:
 *
 * - STT models ignore the audio's content and always decode TRANSCRIPT ("hello world"): Whisper's
 *   decoder and the transducer's joiner choose the next token from the previous one, Paraformer's
 *   logits are a constant. The real feature extraction, encoder run and decoding loop still run.
 * - TTS models answer a sine wave of a known length and frequency: its length grows with the number of
 *   tokens and shrinks with speed, and its frequency is the voice's (VITS: a table indexed by the
 *   speaker id; Kokoro: the first value of the voice's style vector in voices.bin).
 *
 * What they cover: sherpa-onnx's loading, metadata checks, tokenizers and decoding loops, and our
 * engines, pool and routes around them. What they do not: recognition or voice quality.
 */
import fs from "node:fs";
import path from "node:path";
import { onnx } from "onnx-proto";

export const TRANSCRIPT = "hello world";

type Dim = number | string;
type Attr = number | number[] | string | onnx.ITensorProto;
const { FLOAT, INT32, INT64 } = onnx.TensorProto.DataType;

interface Graph {
  inputs: [string, number, Dim[]][];
  outputs: [string, number, Dim[]][];
  nodes: onnx.INodeProto[];
  initializers?: onnx.ITensorProto[];
  metadata: Record<string, string | number>;
}

const valueInfo = ([name, elemType, dims]: [string, number, Dim[]]): onnx.IValueInfoProto => ({
  name,
  type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } } },
});

function attribute(name: string, value: Attr): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === "string") return { name, type: T.STRING, s: Buffer.from(value) };
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  if (typeof value === "number") return { name, type: T.INT, i: value };
  return { name, type: T.TENSOR, t: value };
}

export function tensor(name: string, dataType: number, dims: number[], values: number[]): onnx.ITensorProto {
  if (dataType === FLOAT) return { name, dataType, dims, floatData: values };
  if (dataType === INT64) return { name, dataType, dims, int64Data: values };
  return { name, dataType, dims, int32Data: values };
}

export const node = (opType: string, input: string[], output: string[], attrs: Record<string, Attr> = {}): onnx.INodeProto => ({
  opType,
  input,
  output,
  name: `${opType}_${output[0]}`,
  attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
});

/** A constant node; shorter than an initializer for the small tables these models use. */
const constant = (name: string, dataType: number, dims: number[], values: number[]) => node("Constant", [], [name], { value: tensor(name, dataType, dims, values) });

/** Serialize a graph as an ONNX model (IR 8, opset 13: what onnxruntime in sherpa-onnx 1.13 loads). */
export function onnxModel(g: Graph): Buffer {
  const model: onnx.IModelProto = {
    irVersion: 8,
    producerName: "voice-selfhost tests",
    opsetImport: [{ domain: "", version: 13 }],
    graph: {
      name: "tiny",
      node: g.nodes,
      input: g.inputs.map(valueInfo),
      output: g.outputs.map(valueInfo),
      initializer: g.initializers ?? [],
    },
    metadataProps: Object.entries(g.metadata).map(([key, value]) => ({ key, value: String(value) })),
  };
  return Buffer.from(onnx.ModelProto.encode(model).finish());
}

/** A row-per-token table of scores: row r is 10 at column next[r] and 0 elsewhere. */
function pickTable(rows: number, cols: number, next: (row: number) => number[]): number[] {
  const table = new Array<number>(rows * cols).fill(0);
  for (let r = 0; r < rows; r++) for (const c of next(r)) table[r * cols + c] = 10;
  return table;
}

function write(dir: string, files: Record<string, Buffer | string>): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content);
  return dir;
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

/**
 * Whisper (multilingual, like tiny/base/small): encoder `mel` -> `n_layer_cross_k`, `n_layer_cross_v`;
 * decoder (tokens, self k/v caches, cross k/v, offset) -> logits and the caches. Token ids: 0 " hello",
 * 1 " world", 10 eot, 11 sot, 12 en, 13 de, 14 translate, 15 transcribe, 16 no_speech, 17 no_timestamps.
 * The decoder's logits follow the last input token: no_timestamps -> hello -> world -> eot; sot -> en
 * (what language detection reads when STT_LANGUAGE is empty).
 */
export function writeWhisper(dir: string, options: { dropMetadata?: string } = {}): string {
  const vocab = 18;
  const next: Record<number, number> = { 17: 0, 0: 1, 1: 10, 11: 12 };
  const layers = 1;
  const ctx = 64;
  const state = 4;
  const metadata: Record<string, string | number> = {
    model_type: "whisper-tiny",
    n_mels: 80,
    n_audio_layer: 1,
    n_text_layer: layers,
    n_text_ctx: ctx,
    n_text_state: state,
    n_vocab: vocab,
    sot: 11,
    eot: 10,
    blank_id: 9,
    translate: 14,
    transcribe: 15,
    is_multilingual: 1,
    no_timestamps: 17,
    no_speech: 16,
    sot_sequence: "11,12,15",
    all_language_tokens: "12,13",
    all_language_codes: "en,de",
  };
  if (options.dropMetadata) delete metadata[options.dropMetadata];
  const encoder = onnxModel({
    inputs: [["mel", FLOAT, [1, 80, "T"]]],
    outputs: [
      ["n_layer_cross_k", FLOAT, [layers, 1, 1, 1]],
      ["n_layer_cross_v", FLOAT, [layers, 1, 1, 1]],
    ],
    nodes: [
      node("ReduceMean", ["mel"], ["mean"], { axes: [1, 2], keepdims: 1 }),
      node("Unsqueeze", ["mean", "axis0"], ["n_layer_cross_k"]),
      node("Identity", ["n_layer_cross_k"], ["n_layer_cross_v"]),
    ],
    initializers: [tensor("axis0", INT64, [1], [0])],
    metadata,
  });
  const decoder = onnxModel({
    inputs: [
      ["tokens", INT64, [1, "n_tokens"]],
      ["in_n_layer_self_k_cache", FLOAT, [layers, 1, ctx, state]],
      ["in_n_layer_self_v_cache", FLOAT, [layers, 1, ctx, state]],
      ["n_layer_cross_k", FLOAT, [layers, 1, "T", 1]],
      ["n_layer_cross_v", FLOAT, [layers, 1, "T", 1]],
      ["offset", INT64, [1]],
    ],
    outputs: [
      ["logits", FLOAT, [1, "n_tokens", vocab]],
      ["out_n_layer_self_k_cache", FLOAT, [layers, 1, ctx, state]],
      ["out_n_layer_self_v_cache", FLOAT, [layers, 1, ctx, state]],
    ],
    nodes: [
      node("Gather", ["table", "tokens"], ["logits"], { axis: 0 }),
      node("Identity", ["in_n_layer_self_k_cache"], ["out_n_layer_self_k_cache"]),
      node("Identity", ["in_n_layer_self_v_cache"], ["out_n_layer_self_v_cache"]),
    ],
    initializers: [tensor("table", FLOAT, [vocab, vocab], pickTable(vocab, vocab, (r) => [next[r] ?? 10]))],
    metadata: {},
  });
  // Whisper's tokens file holds base64 text; special tokens are not in it.
  const tokens = [" hello", " world"].map((t, i) => `${b64(t)} ${i}`).join("\n") + "\n";
  return write(dir, { "tiny-encoder.onnx": encoder, "tiny-decoder.onnx": decoder, "tiny-tokens.txt": tokens });
}

/**
 * NeMo transducer with token-and-duration outputs, laid out as sherpa-onnx's Parakeet TDT archives:
 * encoder (audio_signal, length) -> (outputs, encoded_lengths); decoder (targets, target_length, two
 * LSTM states) -> (outputs, prednet_lengths, states); joiner -> 4 token logits + 5 duration logits.
 * The decoder's output is the one-hot of the last token and the joiner maps it to the next:
 * <blk> -> ▁hello -> ▁world -> <blk>, each with duration 1.
 */
export function writeTransducer(dir: string, options: { dropMetadata?: string } = {}): string {
  const vocab = 4; // <unk> ▁hello ▁world <blk>; NeMo's vocab_size excludes the blank
  const durations = 5;
  const hidden = 2;
  const nextToken: Record<number, number> = { 3: 1, 1: 2 };
  const metadata: Record<string, string | number> = {
    model_type: "EncDecRNNTBPEModel",
    vocab_size: vocab - 1,
    normalize_type: "per_feature",
    pred_rnn_layers: 1,
    pred_hidden: hidden,
    // No real subsampling here: encoder frames are feature frames, so timestamps stay true.
    subsampling_factor: 1,
    feat_dim: 128,
    url: "https://huggingface.co/nvidia/parakeet-tdt-0.6b-v2 (structure only)",
    comment: "voice-selfhost test model",
  };
  if (options.dropMetadata) delete metadata[options.dropMetadata];
  const encoder = onnxModel({
    inputs: [
      ["audio_signal", FLOAT, [1, 128, "T"]],
      ["length", INT64, [1]],
    ],
    outputs: [
      ["outputs", FLOAT, [1, 1, "T"]],
      ["encoded_lengths", INT64, [1]],
    ],
    nodes: [node("ReduceMean", ["audio_signal"], ["outputs"], { axes: [1], keepdims: 1 }), node("Identity", ["length"], ["encoded_lengths"])],
    metadata,
  });
  const decoder = onnxModel({
    inputs: [
      ["targets", INT32, [1, 1]],
      ["target_length", INT32, [1]],
      ["states.1", FLOAT, [1, 1, hidden]],
      ["onnx::Slice_3", FLOAT, [1, 1, hidden]],
    ],
    outputs: [
      ["outputs", FLOAT, [1, vocab, 1]],
      ["prednet_lengths", INT32, [1]],
      ["states", FLOAT, [1, 1, hidden]],
      ["162", FLOAT, [1, 1, hidden]],
    ],
    nodes: [
      node("Gather", ["onehot", "targets"], ["embedded"], { axis: 0 }),
      node("Transpose", ["embedded"], ["outputs"], { perm: [0, 2, 1] }),
      node("Identity", ["target_length"], ["prednet_lengths"]),
      node("Identity", ["states.1"], ["states"]),
      node("Identity", ["onnx::Slice_3"], ["162"]),
    ],
    initializers: [tensor("onehot", FLOAT, [vocab, vocab], pickTable(vocab, vocab, (r) => [r]))],
    metadata: {},
  });
  const width = vocab + durations;
  const joiner = onnxModel({
    inputs: [
      ["encoder_outputs", FLOAT, [1, 1, 1]],
      ["decoder_outputs", FLOAT, [1, vocab, 1]],
    ],
    outputs: [["outputs", FLOAT, [1, 1, 1, width]]],
    nodes: [
      node("Reshape", ["decoder_outputs", "flat"], ["last"]),
      node("MatMul", ["last", "table"], ["scores"]),
      node("Reshape", ["scores", "out_shape"], ["outputs"]),
    ],
    initializers: [
      tensor("flat", INT64, [2], [1, vocab]),
      tensor("out_shape", INT64, [4], [1, 1, 1, width]),
      // Each row: the next token (or <blk>), and duration 1 (column vocab + 1).
      tensor("table", FLOAT, [vocab, width], pickTable(vocab, width, (r) => [nextToken[r] ?? vocab - 1, vocab + 1])),
    ],
    metadata: {},
  });
  const tokens = ["<unk> 0", "▁hello 1", "▁world 2", "<blk> 3"].join("\n") + "\n";
  return write(dir, { "encoder.int8.onnx": encoder, "decoder.int8.onnx": decoder, "joiner.int8.onnx": joiner, "tokens.txt": tokens });
}

/**
 * Paraformer (FunASR, non-streaming): one model (speech [N,T,560], speech_lengths) -> (logits,
 * token_num) with the LFR and CMVN metadata sherpa-onnx applies to the features. Its logits are a
 * constant: hello, world, </s>.
 */
export function writeParaformer(dir: string, options: { dropMetadata?: string; tokens?: string } = {}): string {
  const symbols = ["<blank>", "<s>", "</s>", "hello", "world", "<unk>"];
  const lfr = 7;
  const dim = 80 * lfr;
  const metadata: Record<string, string | number> = {
    model_type: "paraformer",
    vocab_size: symbols.length,
    lfr_window_size: lfr,
    lfr_window_shift: 6,
    neg_mean: new Array(dim).fill("0").join(","),
    inv_stddev: new Array(dim).fill("1").join(","),
  };
  if (options.dropMetadata) delete metadata[options.dropMetadata];
  const picks = [3, 4, 2];
  const model = onnxModel({
    inputs: [
      ["speech", FLOAT, ["N", "T", dim]],
      ["speech_lengths", INT32, ["N"]],
    ],
    outputs: [
      ["logits", FLOAT, [1, picks.length, symbols.length]],
      ["token_num", INT32, [1]],
    ],
    nodes: [
      constant("logits", FLOAT, [1, picks.length, symbols.length], pickTable(picks.length, symbols.length, (r) => [picks[r]])),
      constant("token_num", INT32, [1], [picks.length - 1]),
    ],
    metadata,
  });
  const tokens = options.tokens ?? symbols.map((s, i) => `${s} ${i}`).join("\n") + "\n";
  return write(dir, { "model.int8.onnx": model, "tokens.txt": tokens });
}

/** What the TTS models answer: 0.5 * sin(2π f t), with f per voice, for a known number of samples. */
export const TTS = {
  vits: { sampleRate: 16000, samplesPerToken: 200, hz: [440, 880] },
  kokoro: { sampleRate: 24000, samplesPerToken: 300, hz: [300, 600] },
};

/**
 * The sine-wave tail shared by both TTS graphs: `samples` (a float scalar count) and `w` (radians per
 * sample) in, `wave` (shape [samples]) out.
 */
const sineNodes = (samples: string, w: string, wave: string): onnx.INodeProto[] => [
  constant("zero", FLOAT, [], [0]),
  constant("one", FLOAT, [], [1]),
  constant("half", FLOAT, [], [0.5]),
  node("Floor", [samples], ["count"]),
  node("Range", ["zero", "count", "one"], ["t"]),
  node("Mul", ["t", w], ["phase"]),
  node("Sin", ["phase"], ["sine"]),
  node("Mul", ["sine", "half"], [wave]),
];

/**
 * VITS with a lexicon (the vits-ljs / vits-vctk layout: no espeak-ng): x, x_length, noise_scale,
 * length_scale, noise_scale_w, sid -> y [1,1,n]. n = tokens (after add_blank) x 200 x length_scale.
 */
export function writeVits(dir: string, options: { dropMetadata?: string } = {}): string {
  const { sampleRate, samplesPerToken, hz } = TTS.vits;
  const letters = "abcdefghijklmnopqrstuvwxyz".split("");
  // Id 0 pads (add_blank), id 1 is the word separator: a tokens.txt line with an id alone means " ".
  const tokens = ["_ 0", " 1", ...letters.map((l, i) => `${l} ${i + 2}`), `, ${letters.length + 2}`, `. ${letters.length + 3}`].join("\n") + "\n";
  const words = ["hello", "world", "ready", "good", "morning", "speech", "test"];
  const lexicon = words.map((w) => `${w} ${w.split("").join(" ")}`).join("\n") + "\n";
  const metadata: Record<string, string | number> = {
    model_type: "vits",
    comment: "vctk",
    language: "English",
    add_blank: 1,
    n_speakers: hz.length,
    sample_rate: sampleRate,
    punctuation: ", .",
  };
  if (options.dropMetadata) delete metadata[options.dropMetadata];
  const model = onnxModel({
    inputs: [
      ["x", INT64, [1, "L"]],
      ["x_length", INT64, [1]],
      ["noise_scale", FLOAT, [1]],
      ["length_scale", FLOAT, [1]],
      ["noise_scale_w", FLOAT, [1]],
      ["sid", INT64, [1]],
    ],
    outputs: [["y", FLOAT, [1, 1, "n"]]],
    nodes: [
      node("Cast", ["x_length"], ["len_f"], { to: FLOAT }),
      node("Mul", ["len_f", "hop"], ["base"]),
      node("Mul", ["base", "length_scale"], ["scaled"]),
      node("Squeeze", ["scaled", "axis0"], ["samples"]),
      node("Gather", ["w_per_voice", "sid"], ["w"], { axis: 0 }),
      ...sineNodes("samples", "w", "wave"),
      node("Unsqueeze", ["wave", "axes01"], ["y"]),
    ],
    initializers: [
      tensor("hop", FLOAT, [1], [samplesPerToken]),
      tensor("axis0", INT64, [1], [0]),
      tensor("axes01", INT64, [2], [0, 1]),
      tensor("w_per_voice", FLOAT, [hz.length], hz.map((f) => (2 * Math.PI * f) / sampleRate)),
    ],
    metadata,
  });
  return write(dir, { "tiny-vits.onnx": model, "tokens.txt": tokens, "lexicon.txt": lexicon });
}

/** espeak-ng's data as Debian's espeak-ng-data package installs it (scripts/install-system-deps.sh). */
export const ESPEAK_NG_DATA = "/usr/lib/x86_64-linux-gnu/espeak-ng-data";
/** What espeak-ng reads to phonemize English: ~2 MB of the package's 13 MB, copied so the model folder is self-contained. */
const ESPEAK_ENGLISH = ["phontab", "phonindex", "phondata", "intonations", "en_dict", "lang", "voices"];

/** IPA symbols espeak-ng writes for English, each a token of the Kokoro model (unknown phonemes are skipped). */
const IPA = "ˈˌːaæɑɒɐbdðeɛəɚɜfɡhiɪjklmnŋoɔprɹsʃtθuʊʌvwzʒʔᵻɾʤʧ";

/**
 * Kokoro v0.19-style (espeak-ng phonemes, one style vector per voice and token count): tokens, style,
 * speed -> audio [n]. n = tokens x 300 / speed; the frequency is the style vector's first value.
 */
export function writeKokoro(dir: string, options: { dropMetadata?: string; voicesBytes?: number } = {}): string {
  const { sampleRate, samplesPerToken, hz } = TTS.kokoro;
  const maxTokens = 510;
  const styleWidth = 4;
  const metadata: Record<string, string | number> = {
    model_type: "kokoro",
    language: "English",
    version: 1,
    has_espeak: 1,
    n_speakers: hz.length,
    sample_rate: sampleRate,
    voice: "en-us",
    style_dim: `${maxTokens},1,${styleWidth}`,
    speaker_names: hz.map((_, i) => `voice${i}`).join(","),
  };
  if (options.dropMetadata) delete metadata[options.dropMetadata];
  const model = onnxModel({
    inputs: [
      ["tokens", INT64, [1, "L"]],
      ["style", FLOAT, [1, styleWidth]],
      ["speed", FLOAT, [1]],
    ],
    outputs: [["audio", FLOAT, ["n"]]],
    nodes: [
      node("Shape", ["tokens"], ["shape"]),
      node("Gather", ["shape", "one_i"], ["len"], { axis: 0 }),
      node("Cast", ["len"], ["len_f"], { to: FLOAT }),
      node("Mul", ["len_f", "hop"], ["base"]),
      node("Div", ["base", "speed"], ["scaled"]),
      node("Squeeze", ["scaled", "axis0"], ["samples"]),
      node("Reshape", ["style", "flat"], ["style_flat"]),
      node("Gather", ["style_flat", "zero_i"], ["w"], { axis: 0 }),
      ...sineNodes("samples", "w", "audio"),
    ],
    initializers: [
      tensor("one_i", INT64, [], [1]),
      tensor("zero_i", INT64, [], [0]),
      tensor("hop", FLOAT, [], [samplesPerToken]),
      tensor("axis0", INT64, [1], [0]),
      tensor("flat", INT64, [1], [-1]),
    ],
    metadata,
  });
  const styles = new Float32Array(hz.length * maxTokens * styleWidth);
  hz.forEach((f, voice) => {
    for (let t = 0; t < maxTokens; t++) styles[(voice * maxTokens + t) * styleWidth] = (2 * Math.PI * f) / sampleRate;
  });
  const voices = Buffer.from(styles.buffer).subarray(0, options.voicesBytes ?? styles.byteLength);
  const tokens = ["$ 0", "; 1", ": 2", ", 3", ". 4", "! 5", "? 6", " 16", ...IPA.split("").map((c, i) => `${c} ${20 + i}`)].join("\n") + "\n";
  write(dir, { "model.onnx": model, "voices.bin": voices, "tokens.txt": tokens });
  for (const f of ESPEAK_ENGLISH) fs.cpSync(path.join(ESPEAK_NG_DATA, f), path.join(dir, "espeak-ng-data", f), { recursive: true });
  return dir;
}
