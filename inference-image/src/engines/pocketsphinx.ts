/**
 * Built-in STT: CMU pocketsphinx (Debian's libpocketsphinx3 0.8+5prealpha, US English model) called
 * in-process through koffi. The signatures below follow that version's pocketsphinx.h and sphinxbase
 * headers (config through sphinxbase's cmd_ln, one-argument ps_seg_iter).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import koffi from "koffi";
import { EngineConfigError, type PocketsphinxSettings } from "./config";
import { checkPocketsphinxModel, POCKETSPHINX_INSTALL_HINT as INSTALL_HINT } from "./model-files";
import { type BatchOptions, floatToInt16, makeTranscript, type SttEngine, type UtteranceDecoder } from "./engine";
import { dictionaryWord, Pronouncer } from "./pronounce";
import { MAX_TERM_CHARS, MAX_VOCABULARY_TERMS } from "../params/vocabulary";
import { EngineInputError, type ModelInfo, type Transcript, type Vocabulary, type Word } from "./types";

const SAMPLE_RATE = 16000;
/** pocketsphinx computes 100 feature frames per second. */
const FRAMES_PER_S = 100;

/**
 * Narrowband (telephony) audio upsampled to 16 kHz leaves this model's mel filters above 4 kHz (it spans
 * 130-6800 Hz) nearly empty. Live decoders for it differ in three measured ways (BENCHMARKS.md):
 * - live CMN starts from the mean cepstrum of narrowband speech, not the model's 16 kHz one (-cmninit):
 *   a fresh decoder otherwise spends its first utterances adapting (WER ~0.8 on them);
 * - a constant noise floor (std 5 of 32768, about -76 dBFS) steadies the log energies of the empty filters;
 * - the library's noise removal, which would take that floor back out, is off.
 * Re-tuning the filter bank for 4 kHz (-upperf 3500-3800, -samprate 8000) is no use: the model was trained
 * on the 6800 Hz bank (WER 0.8-0.9).
 */
const NARROWBAND_NOISE_STD = 5;
const NARROWBAND_ARGS = ["-remove_noise", "no"];
/** Measured: the live CMN estimate pocketsphinx settles on after 30 Flite clips sent as 8 kHz mu-law. */
const NARROWBAND_CMNINIT = "54.0,14.5,-15.5,47.3,-12.9,3.4,12.2,-14.1,4.2,-12.1,9.1,-0.3,-4.7";

/**
 * Runs `init` with a copy of the model's feat.params carrying the narrowband -cmninit, in a private
 * temporary directory removed afterwards (ps_init reads it once): the library reads feat.params after the
 * command line and lets it override the same flags, so -featparams pointing elsewhere is the only way.
 */
function withNarrowbandFeatParams<T>(modelDir: string, init: (file: string) => T): T {
  const own = fs.readFileSync(path.join(modelDir, "en-us", "feat.params"), "utf8");
  const lines = own.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("-cmninit"));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pocketsphinx-"));
  try {
    const file = path.join(dir, "feat.params");
    fs.writeFileSync(file, [...lines, `-cmninit ${NARROWBAND_CMNINIT}`, ""].join("\n"));
    return init(file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Deterministic noise (so a clip always transcribes the same), roughly Gaussian: a sum of four uniforms. */
class NoiseFloor {
  private static readonly SEED = 0x9e3779b9;
  private state = NoiseFloor.SEED;
  /** Four uniforms in [-1, 1) have variance 4/3; scaled to the wanted std. */
  private readonly scale = NARROWBAND_NOISE_STD / Math.sqrt(4 / 3);

  add(pcm: Int16Array): void {
    for (let i = 0; i < pcm.length; i++) {
      let sum = 0;
      for (let k = 0; k < 4; k++) sum += this.next();
      pcm[i] = Math.max(-32768, Math.min(32767, Math.round(pcm[i] + sum * this.scale)));
    }
  }

  /** Start the sequence over, so a clip decoded alone gets the same noise whatever came before. */
  reset(): void {
    this.state = NoiseFloor.SEED;
  }

  /** xorshift32, mapped to [-1, 1). */
  private next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state / 2 ** 31 - 1;
  }
}

interface Native {
  psArgs: () => unknown;
  cmdLnParse: (prev: null, defs: unknown, argc: number, argv: string[], strict: number) => unknown;
  cmdLnFree: (cfg: unknown) => number;
  psInit: (cfg: unknown) => unknown;
  psFree: (ps: unknown) => number;
  startStream: (ps: unknown) => number;
  startUtt: (ps: unknown) => number;
  processRaw: (ps: unknown, data: Int16Array, n: number, noSearch: number, fullUtt: number) => number;
  endUtt: (ps: unknown) => number;
  getConfig: (ps: unknown) => unknown;
  getLm: (ps: unknown, name: string) => unknown;
  setLm: (ps: unknown, name: string, lm: unknown) => number;
  setSearch: (ps: unknown, name: string) => number;
  logmathRetain: (lmath: unknown) => unknown;
  lmRead: (config: unknown, file: string, type: number, lmath: unknown) => unknown;
  lmSetInit: (config: unknown, models: unknown[], names: string[], weights: Float32Array, n: number) => unknown;
  lmFree: (lm: unknown) => number;
  getHyp: (ps: unknown, score: number[]) => string | null;
  segIter: (ps: unknown) => unknown;
  segNext: (seg: unknown) => unknown;
  segWord: (seg: unknown) => string;
  segFrames: (seg: unknown, sf: number[], ef: number[]) => void;
  segProb: (seg: unknown, ascr: number[], lscr: number[], lback: number[]) => number;
  getLogmath: (ps: unknown) => unknown;
  logmathExp: (lmath: unknown, logp: number) => number;
}

let native: Native | undefined;

function loadNative(): Native {
  if (native) return native;
  let ps: koffi.IKoffiLib;
  let sb: koffi.IKoffiLib;
  try {
    ps = koffi.load("libpocketsphinx.so.3");
    sb = koffi.load("libsphinxbase.so.3");
  } catch (err) {
    throw new EngineConfigError(`the built-in STT engine needs the pocketsphinx library (${(err as Error).message}); ${INSTALL_HINT}`);
  }
  koffi.opaque("ps_decoder_t");
  koffi.opaque("ps_seg_t");
  koffi.opaque("cmd_ln_t");
  koffi.opaque("arg_t");
  koffi.opaque("logmath_t");
  const n: Native = {
    psArgs: ps.func("const arg_t *ps_args()"),
    cmdLnParse: sb.func("cmd_ln_t *cmd_ln_parse_r(cmd_ln_t *, const arg_t *, int32_t, const char **, int32_t)"),
    cmdLnFree: sb.func("int cmd_ln_free_r(cmd_ln_t *)"),
    psInit: ps.func("ps_decoder_t *ps_init(cmd_ln_t *)"),
    psFree: ps.func("int ps_free(ps_decoder_t *)"),
    startStream: ps.func("int ps_start_stream(ps_decoder_t *)"),
    startUtt: ps.func("int ps_start_utt(ps_decoder_t *)"),
    processRaw: ps.func("int ps_process_raw(ps_decoder_t *, const int16_t *, size_t, int, int)"),
    endUtt: ps.func("int ps_end_utt(ps_decoder_t *)"),
    getConfig: ps.func("void *ps_get_config(ps_decoder_t *)"),
    getLm: ps.func("void *ps_get_lm(ps_decoder_t *, const char *)"),
    setLm: ps.func("int ps_set_lm(ps_decoder_t *, const char *, void *)"),
    setSearch: ps.func("int ps_set_search(ps_decoder_t *, const char *)"),
    logmathRetain: sb.func("void *logmath_retain(void *)"),
    lmRead: sb.func("void *ngram_model_read(void *, const char *, int, void *)"),
    lmSetInit: sb.func("void *ngram_model_set_init(void *, void **, const char **, const float *, int)"),
    lmFree: sb.func("int ngram_model_free(void *)"),
    getHyp: ps.func("const char *ps_get_hyp(ps_decoder_t *, _Out_ int32_t *)"),
    segIter: ps.func("ps_seg_t *ps_seg_iter(ps_decoder_t *)"),
    segNext: ps.func("ps_seg_t *ps_seg_next(ps_seg_t *)"),
    segWord: ps.func("const char *ps_seg_word(ps_seg_t *)"),
    segFrames: ps.func("void ps_seg_frames(ps_seg_t *, _Out_ int *, _Out_ int *)"),
    segProb: ps.func("int32_t ps_seg_prob(ps_seg_t *, _Out_ int32_t *, _Out_ int32_t *, _Out_ int32_t *)"),
    getLogmath: ps.func("logmath_t *ps_get_logmath(ps_decoder_t *)"),
    logmathExp: sb.func("double logmath_exp(logmath_t *, int)"),
  };
  // The library logs every decode to stderr by default; nothing it says is needed, and a log line must never carry transcripts.
  sb.func("void err_set_logfp(void *)")(null);
  native = n;
  return n;
}

/** Filler and sentence markers, not words: <s>, </s>, <sil>, [NOISE], [SPEECH], ++GARBAGE++. */
function isFiller(word: string): boolean {
  return word.startsWith("<") || word.startsWith("[") || word.startsWith("++");
}

class Decoder implements UtteranceDecoder {
  private readonly lmath: unknown;
  private inUtterance = false;
  private samples = 0;
  /**
   * Incremental decoding (ps_process_raw without full_utt) keeps counting frames across utterances in this
   * library version, so segment frames of a later utterance start where the previous one ended.
   */
  private liveFrames = 0;
  private offsetFrames = 0;

  constructor(
    private readonly n: Native,
    private readonly ps: unknown,
    private readonly noise?: NoiseFloor,
  ) {
    this.lmath = n.getLogmath(ps);
  }


  accept(samples: Float32Array): void {
    if (!this.inUtterance) this.begin();
    const pcm = this.toPcm(samples);
    this.samples += pcm.length;
    if (this.n.processRaw(this.ps, pcm, pcm.length, 0, 0) < 0) throw new Error("pocketsphinx failed to process audio");
  }

  partial(): Transcript {
    return this.result();
  }

  finish(): Transcript {
    if (!this.inUtterance) this.begin();
    if (this.n.endUtt(this.ps) < 0) throw new Error("pocketsphinx failed to end the utterance");
    this.inUtterance = false;
    const result = this.result();
    this.liveFrames += Math.floor(this.samples / (SAMPLE_RATE / FRAMES_PER_S));
    this.samples = 0;
    return result;
  }

  /**
   * Decode a whole clip in one call (full_utt lets pocketsphinx use the whole utterance at once). Each clip
   * starts a new stream: the front end's noise estimate (-remove_noise) otherwise carries over from the clips
   * decoded before, and the same audio came back with different words depending on them. CMN needs no reset:
   * whole-utterance decoding normalises by the clip's own mean (feat.params: -cmn batch).
   */
  decodeAll(samples: Float32Array): Transcript {
    if (this.n.startStream(this.ps) < 0) throw new Error("pocketsphinx failed to start a stream");
    this.noise?.reset();
    this.begin();
    // Whole-utterance decoding counts frames from 0 each time.
    this.offsetFrames = 0;
    const pcm = this.toPcm(samples);
    this.samples = pcm.length;
    if (this.n.processRaw(this.ps, pcm, pcm.length, 0, 1) < 0) throw new Error("pocketsphinx failed to process audio");
    const t = this.finish();
    this.liveFrames = 0;
    return t;
  }

  free(): void {
    if (this.inUtterance) this.n.endUtt(this.ps);
    this.n.psFree(this.ps);
  }

  private toPcm(samples: Float32Array): Int16Array {
    const pcm = floatToInt16(samples);
    this.noise?.add(pcm);
    return pcm;
  }

  private begin(): void {
    if (this.n.startUtt(this.ps) < 0) throw new Error("pocketsphinx failed to start an utterance");
    this.inUtterance = true;
    this.samples = 0;
    this.offsetFrames = this.liveFrames;
  }

  private result(): Transcript {
    const words: Word[] = [];
    const sf = [0];
    const ef = [0];
    const scratch = [0];
    // The seg iterator frees itself when ps_seg_next returns NULL.
    for (let seg = this.n.segIter(this.ps); seg; seg = this.n.segNext(seg)) {
      const raw = this.n.segWord(seg);
      if (isFiller(raw)) continue;
      this.n.segFrames(seg, sf, ef);
      // Posteriors exist only for final results (bestpath); partial ones are 0 in log space, i.e. 1.0.
      const posterior = this.n.segProb(seg, scratch, scratch, scratch);
      words.push({
        // Alternate pronunciations come back as word(2).
        word: raw.replace(/\(\d+\)$/, ""),
        start: (sf[0] - this.offsetFrames) / FRAMES_PER_S,
        end: (ef[0] + 1 - this.offsetFrames) / FRAMES_PER_S,
        confidence: Math.min(1, Math.max(0, this.n.logmathExp(this.lmath, posterior))),
      });
    }
    return makeTranscript(words, this.samples / SAMPLE_RATE, "en");
  }
}

/** The command-line flags for the settings that are set (unset ones keep the library default). */
export function searchArgs(s: Partial<PocketsphinxSettings>): string[] {
  const flags: [string, number | boolean | undefined][] = [
    ["-maxhmmpf", s.maxhmmpf],
    ["-maxwpf", s.maxwpf],
    ["-ds", s.ds],
    ["-topn", s.topn],
    ["-pl_window", s.plWindow],
    ["-fwdflat", s.fwdflat],
    ["-bestpath", s.bestpath],
  ];
  return flags.flatMap(([flag, v]) => (v === undefined ? [] : [flag, typeof v === "boolean" ? (v ? "yes" : "no") : String(v)]));
}

/** The name pocketsphinx gives the search it makes from -lm, and the one a vocabulary decoder searches with. */
const DEFAULT_SEARCH = "_default";
const VOCABULARY_SEARCH = "vocabulary";
/** sphinxbase's ngram_file_type_t: tell the format from the file. */
const NGRAM_AUTO = 0;

/** A vocabulary word, with the pronunciations to add to the dictionary (none when the dictionary has it). */
export interface VocabularyWord {
  word: string;
  add: string[];
}

/**
 * Share of the language-model probability given to the vocabulary's terms (an interpolated unigram model of
 * them, each equally likely). Measured at this value only (BENCHMARKS.md, "Custom vocabulary": recall 0 -> 0.79,
 * WER down); other weights were not compared.
 */
export const VOCABULARY_LM_WEIGHT = 0.05;

/**
 * Runs `init` with the files a vocabulary decoder loads, in a private temporary directory removed afterwards
 * (ps_init reads them once): the model's dictionary plus the new words' pronunciations, a unigram language
 * model of the terms. ps_add_word is not used: in this library version it crashes the decoder once a word is
 * added to the binary (trie) language model.
 */
function withVocabularyFiles<T>(modelDir: string, words: VocabularyWord[], init: (files: { dict: string; arpa: string }) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pocketsphinx-"));
  try {
    const dict = path.join(dir, "dict");
    const added = words.flatMap(({ word, add }) => add.map((phones, i) => `${i === 0 ? word : `${word}(${i + 1})`} ${phones}`));
    fs.writeFileSync(dict, Buffer.concat([fs.readFileSync(path.join(modelDir, "cmudict-en-us.dict")), Buffer.from(`\n${added.join("\n")}\n`)]));
    const p = Math.log10(1 / (words.length + 1)).toFixed(4);
    const arpa = path.join(dir, "terms.arpa");
    const unigrams = ["-99 <s> 0", `${p} </s> 0`, ...words.map(({ word }) => `${p} ${word} 0`)];
    fs.writeFileSync(arpa, ["\\data\\", `ngram 1=${unigrams.length}`, "", "\\1-grams:", ...unigrams, "", "\\end\\", ""].join("\n"));
    return init({ dict, arpa });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Decoders that know a request's terms, kept per worker for the vocabularies used last: the shared decoder
 * never changes (so a request's words never reach another's), and making one costs a model load (0.6-0.9 s),
 * which a client that sends the same terms pays once.
 */
const VOCABULARY_DECODERS = 2;

export class PocketsphinxStt implements SttEngine {
  readonly info: ModelInfo = { id: "pocketsphinx-en-us", kind: "stt", engine: "pocketsphinx", provider: "cpu", sampleRate: SAMPLE_RATE, languages: ["en"] };
  private readonly n: Native;
  private readonly batch: Decoder;
  /** Made on the first narrowband upload. */
  private batchNarrowband?: Decoder;
  private pronouncer?: Pronouncer;
  /** Most recently used last. */
  private readonly withVocabulary = new Map<string, Decoder>();

  /** `settings`: live decoding's; `batchSettings`: uploads' (config.ts). */
  constructor(
    private readonly modelDir: string,
    private readonly settings: PocketsphinxSettings,
    private readonly batchSettings: Partial<PocketsphinxSettings> = {},
  ) {
    this.n = loadNative();
    checkPocketsphinxModel(modelDir);
    this.batch = this.newDecoder(batchSettings);
  }

  transcribe(samples: Float32Array, options: BatchOptions = {}): Transcript {
    if (options.narrowband && !options.vocabulary?.terms.length) return (this.batchNarrowband ??= this.newDecoder(this.batchSettings, true)).decodeAll(samples);
    return this.decoderFor(options.vocabulary).decodeAll(samples);
  }

  free(): void {
    for (const decoder of [this.batch, this.batchNarrowband, ...this.withVocabulary.values()]) decoder?.free();
  }

  /**
   * The words of `vocabulary`, each with the pronunciations to add for it (none for a word the dictionary
   * has), sorted so the same terms in any order make the same decoder.
   */
  vocabularyWords(vocabulary: Vocabulary): VocabularyWord[] {
    if (vocabulary.terms.length > MAX_VOCABULARY_TERMS) throw new EngineInputError(`at most ${MAX_VOCABULARY_TERMS} vocabulary terms, got ${vocabulary.terms.length}`);
    const long = vocabulary.terms.find((t) => t.length > MAX_TERM_CHARS);
    if (long !== undefined) throw new EngineInputError(`a vocabulary term may have at most ${MAX_TERM_CHARS} characters: "${long.slice(0, MAX_TERM_CHARS)}..."`);
    this.pronouncer ??= new Pronouncer(path.join(this.modelDir, "cmudict-en-us.dict"));
    const words = new Map<string, string[]>();
    for (const written of vocabulary.terms.flatMap((t) => t.split(/\s+/))) {
      const word = dictionaryWord(written);
      if (!word || words.has(word)) continue;
      const add = this.pronouncer.has(word) ? [] : this.pronouncer.pronounce(written);
      if (this.pronouncer.has(word) || add.length > 0) words.set(word, add);
    }
    return [...words].map(([word, add]) => ({ word, add })).sort((a, b) => (a.word < b.word ? -1 : a.word > b.word ? 1 : 0));
  }

  private decoderFor(vocabulary: Vocabulary | undefined): Decoder {
    if (!vocabulary || vocabulary.terms.length === 0) return this.batch;
    const terms = this.vocabularyWords(vocabulary);
    if (terms.length === 0) return this.batch;
    const key = JSON.stringify(terms);
    let decoder = this.withVocabulary.get(key);
    if (decoder) this.withVocabulary.delete(key);
    else {
      decoder = this.vocabularyDecoder(this.batchSettings, terms, false);
      if (this.withVocabulary.size >= VOCABULARY_DECODERS) {
        const [oldest, old] = this.withVocabulary.entries().next().value as [string, Decoder];
        old.free();
        this.withVocabulary.delete(oldest);
      }
    }
    this.withVocabulary.set(key, decoder);
    return decoder;
  }

  /**
   * Live decoders skip the flat-lexicon pass unless it is set explicitly: it re-searches the whole
   * utterance when it ends, which is time added to every speech_final (about half of it, measured).
   */
  createDecoder(narrowband = false, vocabulary?: Vocabulary): UtteranceDecoder {
    const settings = { ...this.settings, fwdflat: this.settings.fwdflat ?? false };
    const terms = vocabulary ? this.vocabularyWords(vocabulary) : [];
    if (terms.length === 0) return this.newDecoder(settings, narrowband);
    return this.vocabularyDecoder(settings, terms, narrowband);
  }

  private vocabularyDecoder(settings: Partial<PocketsphinxSettings>, terms: VocabularyWord[], narrowband: boolean): Decoder {
    const make = (featparams: string[], noise?: NoiseFloor) =>
      withVocabularyFiles(this.modelDir, terms, (files) => this.makeDecoder(settings, [...featparams, "-dict", files.dict], noise, { arpa: files.arpa, weight: VOCABULARY_LM_WEIGHT }));
    if (narrowband) return withNarrowbandFeatParams(this.modelDir, (file) => make([...NARROWBAND_ARGS, "-featparams", file], new NoiseFloor()));
    return make([]);
  }

  private newDecoder(settings: Partial<PocketsphinxSettings>, narrowband = false): Decoder {
    if (narrowband) return withNarrowbandFeatParams(this.modelDir, (file) => this.makeDecoder(settings, [...NARROWBAND_ARGS, "-featparams", file], new NoiseFloor()));
    return this.makeDecoder(settings, []);
  }

  /** `extra` flags replace the defaults they name (-dict). `terms`: see addTermsSearch. */
  private makeDecoder(settings: Partial<PocketsphinxSettings>, extra: string[], noise?: NoiseFloor, terms?: { arpa: string; weight: number }): Decoder {
    const defaults: [string, string][] = [
      ["-hmm", path.join(this.modelDir, "en-us")],
      ["-dict", path.join(this.modelDir, "cmudict-en-us.dict")],
      ["-samprate", String(SAMPLE_RATE)],
      ["-lm", path.join(this.modelDir, "en-us.lm.bin")],
    ];
    const argv = [...defaults.filter(([flag]) => !extra.includes(flag)).flat(), ...searchArgs(settings), ...extra];
    const cfg = this.n.cmdLnParse(null, this.n.psArgs(), argv.length, argv, 1);
    if (!cfg) throw new EngineConfigError(`pocketsphinx rejected its configuration for ${this.modelDir}`);
    const ps = this.n.psInit(cfg);
    // ps_init keeps its own reference to the config.
    this.n.cmdLnFree(cfg);
    if (!ps) throw new EngineConfigError(`pocketsphinx could not load the model in ${this.modelDir} (malformed or incomplete); ${INSTALL_HINT}`);
    if (terms) {
      try {
        this.addTermsSearch(ps, terms.arpa, terms.weight);
      } catch (err) {
        this.n.psFree(ps);
        throw err;
      }
    }
    return new Decoder(this.n, ps, noise);
  }

  /**
   * Make the decoder's search use the model's language model interpolated with the terms' unigram model
   * (`weight` of the probability to the terms): every term becomes likely in any context, the more so the
   * fewer terms there are. The base model is shared with the default search, not loaded twice.
   */
  private addTermsSearch(ps: unknown, arpa: string, weight: number): void {
    const config = this.n.getConfig(ps);
    const base = this.n.getLm(ps, DEFAULT_SEARCH);
    // ngram_model_read takes over a reference to the log-math table.
    const terms = this.n.lmRead(config, arpa, NGRAM_AUTO, this.n.logmathRetain(this.n.getLogmath(ps)));
    if (!base || !terms) throw new Error("pocketsphinx could not read the vocabulary's language model");
    const set = this.n.lmSetInit(config, [base, terms], ["base", "terms"], Float32Array.of(1 - weight, weight), 2);
    this.n.lmFree(terms);
    if (!set) throw new Error("pocketsphinx could not interpolate the vocabulary's language model");
    // The search keeps its own reference to the set.
    const added = this.n.setLm(ps, VOCABULARY_SEARCH, set);
    this.n.lmFree(set);
    if (added < 0 || this.n.setSearch(ps, VOCABULARY_SEARCH) < 0) throw new Error("pocketsphinx could not search with the vocabulary's language model");
  }
}
