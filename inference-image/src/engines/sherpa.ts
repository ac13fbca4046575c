/**
 * Mounted neural models run by sherpa-onnx-node (onnxruntime, on the execution provider decided at start-up):
 * Whisper, offline transducers (NeMo Parakeet, zipformer) and Paraformer for STT; VITS (e.g. Piper) and Kokoro for TTS. A model is a
 * directory laid out like sherpa-onnx's release archives; what each engine expects is listed in
 * MODEL_LAYOUTS, and a directory that lacks a file is refused with the names of what is missing.
 */
import path from "node:path";
import { OfflineRecognizer, OfflineTts, type OfflineRecognizerResult } from "sherpa-onnx-node";
import { concatSamples } from "../shared/samples";
import { EngineConfigError, type EngineConfig, type ExecutionProvider, type ExecutionProviderSetting, type SttEngineName, type TtsEngineName } from "./config";
import { locateModelFiles } from "./model-files";
import { floatToInt16, makeTranscript, type SttEngine, type TtsEngine, type UtteranceDecoder } from "./engine";
import type { ModelInfo, Transcript, Word } from "./types";

const STT_RATE = 16000;

/** createSpeech decides "auto" before any engine loads; an undecided one here is a programming error. */
function decided(provider: ExecutionProviderSetting): ExecutionProvider {
  if (provider === "auto") throw new Error("execution provider not decided: load engines through createSpeech");
  return provider;
}

/**
 * Words from token timestamps when the model gives them (transducers, paraformer): a token that starts
 * with a space or "▁" begins a word. Whisper gives no timestamps: its words then span the whole
 * utterance, and confidence is 1 where the model reports no scores.
 */
function wordsFromResult(r: OfflineRecognizerResult, durationS: number): Word[] {
  const tokens = r.tokens ?? [];
  const times = r.timestamps ?? [];
  if (tokens.length === 0 || times.length !== tokens.length) {
    return r.text.trim().split(/\s+/).filter(Boolean).map((word) => ({ word, start: 0, end: durationS, confidence: 1 }));
  }
  const words: Word[] = [];
  let current: { text: string; start: number; logps: number[] } | undefined;
  const close = (end: number) => {
    if (!current || current.text === "") return;
    const conf = current.logps.length ? Math.exp(current.logps.reduce((a, b) => a + b, 0) / current.logps.length) : 1;
    words.push({ word: current.text, start: current.start, end: Math.max(end, current.start), confidence: conf });
  };
  tokens.forEach((tok, i) => {
    const startsWord = /^[\s▁]/.test(tok) || current === undefined;
    const piece = tok.replace(/^[\s▁]+/, "");
    if (startsWord) {
      close(times[i]);
      current = { text: piece, start: times[i], logps: [] };
    } else if (current) current.text += piece;
    const lp = r.ys_log_probs?.[i];
    if (current && lp !== undefined) current.logps.push(lp);
  });
  close(durationS);
  return words;
}

/** Sherpa offline models have no incremental decoding: partials re-decode the utterance so far. */
class BufferedDecoder implements UtteranceDecoder {
  private chunks: Float32Array[] = [];

  constructor(private readonly stt: SherpaStt) {}

  accept(samples: Float32Array): void {
    this.chunks.push(samples.slice());
  }

  partial(): Transcript {
    return this.stt.transcribe(this.audio());
  }

  finish(): Transcript {
    const result = this.stt.transcribe(this.audio());
    this.chunks = [];
    return result;
  }

  free(): void {
    this.chunks = [];
  }

  private audio(): Float32Array {
    return concatSamples(this.chunks);
  }
}

export class SherpaStt implements SttEngine {
  readonly info: ModelInfo;
  private readonly recognizer: OfflineRecognizer;
  private readonly language: string;

  constructor(config: EngineConfig) {
    const engine = config.stt.engine as Exclude<SttEngineName, "pocketsphinx">;
    const dir = config.stt.modelDir!;
    const f = locateModelFiles(engine, dir, "STT_MODEL_DIR");
    const provider = decided(config.stt.provider);
    const common = { numThreads: config.sherpaThreads, provider, debug: 0 };
    let modelConfig: Record<string, unknown>;
    let languages: string[];
    if (engine === "sherpa-whisper") {
      modelConfig = {
        whisper: { encoder: f["<name>-encoder[.int8].onnx"], decoder: f["<name>-decoder[.int8].onnx"], language: config.stt.language, task: "transcribe" },
        tokens: f["<name>-tokens.txt"],
        ...common,
      };
      // An empty STT_LANGUAGE lets a multilingual Whisper detect the language; requests may then name any.
      languages = config.stt.language === "" ? ["*"] : [config.stt.language];
    } else if (engine === "sherpa-transducer") {
      modelConfig = {
        transducer: { encoder: f["encoder*[.int8].onnx"], decoder: f["decoder*[.int8].onnx"], joiner: f["joiner*[.int8].onnx"] },
        tokens: f["tokens.txt"],
        ...common,
      };
      languages = [config.stt.language || "en"];
    } else {
      modelConfig = { paraformer: { model: f["model[.int8].onnx"] }, tokens: f["tokens.txt"], ...common };
      languages = [config.stt.language || "zh"];
    }
    this.language = languages[0] === "*" ? "" : languages[0];
    this.recognizer = new OfflineRecognizer({ featConfig: { sampleRate: STT_RATE, featureDim: 80 }, modelConfig, decodingMethod: "greedy_search" });
    this.info = { id: `${engine}:${path.basename(path.resolve(dir))}`, kind: "stt", engine, provider, sampleRate: STT_RATE, languages };
  }

  transcribe(samples: Float32Array): Transcript {
    const durationS = samples.length / STT_RATE;
    if (samples.length === 0) return makeTranscript([], 0, this.language);
    const stream = this.recognizer.createStream();
    stream.acceptWaveform({ samples, sampleRate: STT_RATE });
    this.recognizer.decode(stream);
    const result = this.recognizer.getResult(stream);
    const text = result.text.trim();
    return makeTranscript(wordsFromResult(result, durationS), durationS, result.lang?.replace(/[<|>]/g, "") || this.language, text);
  }

  createDecoder(): UtteranceDecoder {
    return new BufferedDecoder(this);
  }
}

export class SherpaTts implements TtsEngine {
  readonly info: ModelInfo;
  readonly defaultVoice: string;
  private readonly tts: OfflineTts;

  constructor(config: EngineConfig) {
    const engine = config.tts.engine as Exclude<TtsEngineName, "flite">;
    const dir = config.tts.modelDir!;
    const f = locateModelFiles(engine, dir, "TTS_MODEL_DIR");
    const model =
      engine === "sherpa-vits"
        ? { vits: { model: f["<voice>.onnx"], tokens: f["tokens.txt"], lexicon: f["lexicon.txt"] ?? "", dataDir: f["espeak-ng-data/"] ?? "" } }
        : {
            kokoro: {
              model: f["model[.int8].onnx"],
              voices: f["voices.bin"],
              tokens: f["tokens.txt"],
              dataDir: f["espeak-ng-data/"],
              lexicon: f["lexicon-us-en.txt"] ?? "",
            },
          };
    const provider = decided(config.tts.provider);
    this.tts = new OfflineTts({ model: { ...model, numThreads: config.sherpaThreads, provider, debug: 0 }, maxNumSentences: 1 });
    // Speaker ids are the voice names: sherpa models do not carry speaker names.
    const voices = Array.from({ length: Math.max(1, this.tts.numSpeakers) }, (_, i) => String(i));
    this.defaultVoice = config.tts.defaultVoice ?? "0";
    if (!voices.includes(this.defaultVoice)) {
      throw new EngineConfigError(`TTS_DEFAULT_VOICE=${this.defaultVoice}: the model in ${dir} has speakers 0-${voices.length - 1}`);
    }
    this.info = { id: `${engine}:${path.basename(path.resolve(dir))}`, kind: "tts", engine, provider, sampleRate: this.tts.sampleRate, languages: ["en"], voices };
  }

  synthesize(text: string, voice: string, speed: number): Int16Array {
    const audio = this.tts.generate({ text, sid: Number(voice), speed, enableExternalBuffer: false });
    return floatToInt16(audio.samples);
  }
}
