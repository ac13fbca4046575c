/**
 * The worker pool behind `Speech`: one worker thread per core, each with its own copy of the models,
 * and a bounded queue in front. Work that finds every worker busy waits in the queue; when the queue is
 * full the call fails at once with QueueFullError, so the API can answer 429 instead of timing out.
 * A live session is pinned to one worker (its decoder state lives there) and its jobs go ahead of the
 * shared queue, so live audio is not stuck behind batch work.
 *
 * Two lanes: the realtime workers run live sessions and synthesis; batch transcriptions run on their own
 * batch workers (when BATCH_WORKERS > 0), at a higher niceness, so a long file never holds the worker a
 * live stream or a first sentence of speech waits for, and the kernel gives the cores to realtime work
 * first. Each lane has its own bounded queue; a full one still refuses at once.
 */
import { Worker } from "node:worker_threads";
import path from "node:path";
import type { EngineConfig } from "./config";
import { EngineConfigError, laneCapacity } from "./config";
import type { FromWorker, Job, JobValue, ToWorker } from "./protocol";
import {
  DEFAULT_INTERIM_MS,
  EngineInputError,
  isNarrowband,
  QueueFullError,
  type LaneLoad,
  type ModelInfo,
  type PoolStats,
  type Speech,
  type StreamEvent,
  type StreamOptions,
  type SttStreamSession,
  type SynthesizeOptions,
  type TranscribeOptions,
  type Transcript,
  type TurnOptions,
  type Vocabulary,
} from "./types";
import { resolveVoice } from "./voices";

interface Pending {
  id: number;
  job: Job;
  resolve: (value: JobValue) => void;
  reject: (err: Error) => void;
  onChunk?: (pcm: Int16Array) => void;
}

type Lane = "realtime" | "batch";

interface Slot {
  worker: Worker;
  lane: Lane;
  loaded: boolean;
  current?: Pending & { startedAt: number };
  /** Jobs of the sessions pinned here, run before the shared queue. */
  pinned: Pending[];
  streams: Set<number>;
  /** Set while the worker frees its engines on close. */
  onClosed?: () => void;
}

/** How long a closing worker gets to free its engines before it is terminated regardless. */
const CLOSE_GRACE_MS = 5000;

/** How a worker is started: the compiled worker.js next to this file, or (running from TypeScript sources, as jest does) the .ts file through @swc/core. */
export function workerEntry(): { script: string; eval: boolean } {
  const compiled = path.join(__dirname, "worker.js");
  if (!__filename.endsWith(".ts")) return { script: compiled, eval: false };
  const source = path.join(__dirname, "worker.ts");
  const swc = require.resolve("@swc/core");
  const script = `
const fs = require("node:fs");
const swc = require(${JSON.stringify(swc)});
require.extensions[".ts"] = (m, filename) => {
  const out = swc.transformSync(fs.readFileSync(filename, "utf8"), {
    filename, jsc: { parser: { syntax: "typescript" }, target: "es2022" }, module: { type: "commonjs" },
  });
  m._compile(out.code, filename);
};
require(${JSON.stringify(source)});`;
  return { script, eval: true };
}

function rebuildError(name: string, message: string): Error {
  if (name === "EngineInputError") return new EngineInputError(message);
  if (name === "EngineConfigError") return new EngineConfigError(message);
  const err = new Error(message);
  err.name = name;
  return err;
}

/** Accepts "en", "en-US", "en_us" for a model that serves "en"; "*" serves any language. */
function checkLanguage(model: ModelInfo, language: string | undefined): string {
  if (language === undefined || language === "") return model.languages[0] === "*" ? "" : model.languages[0];
  if (model.languages.includes("*")) return language;
  const primary = language.toLowerCase().split(/[-_]/)[0];
  const match = model.languages.find((l) => l.toLowerCase() === primary);
  if (!match) throw new EngineInputError(`language "${language.slice(0, 32)}" is not served by ${model.id}; supported: ${model.languages.join(", ")}`);
  return match;
}

export class WorkerPool implements Speech {
  stt!: ModelInfo;
  tts!: ModelInfo;
  private defaultVoice = "";
  private readonly slots: Slot[] = [];
  private readonly queues: Record<Lane, Pending[]> = { realtime: [], batch: [] };
  private nextId = 1;
  private closing = false;
  private closed?: Promise<void>;
  /** Smoothed job duration, for the Retry-After estimate. */
  private avgJobS = 0.5;
  private readonly idleWaiters: (() => void)[] = [];

  private constructor(private readonly config: EngineConfig) {}

  /** Start the workers and resolve once every one has loaded its models (or reject with the first load error). */
  static async start(config: EngineConfig): Promise<WorkerPool> {
    const pool = new WorkerPool(config);
    const loads = [...Array.from({ length: config.workers }, () => pool.spawn("realtime")), ...Array.from({ length: config.batchWorkers }, () => pool.spawn("batch"))];
    const results = await Promise.allSettled(loads);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) {
      pool.closing = true;
      await Promise.all(pool.slots.map((s) => pool.stopWorker(s)));
      throw failed.reason;
    }
    return pool;
  }

  get ready(): boolean {
    return !this.closing && this.slots.length === this.config.workers + this.config.batchWorkers && this.slots.every((s) => s.loaded);
  }

  stats(): PoolStats {
    return {
      queueDepth: this.queues.realtime.length + this.queues.batch.length + this.slots.reduce((n, s) => n + s.pinned.length, 0),
      busyWorkers: this.slots.filter((s) => s.current).length,
      workers: this.slots.length,
      lanes: this.lanes(),
    };
  }

  /** Each lane's in-flight work against laneCapacity; work waiting in a lane's queue counts, so a backlog shows as a ratio above 1. */
  private lanes(): LaneLoad[] {
    const capacity = laneCapacity(this.config);
    const perWorker = this.config.streamsPerWorker;
    const realtime = this.slots.filter((s) => s.lane === "realtime");
    const streams = realtime.reduce((n, s) => n + s.streams.size, 0);
    // A whole-worker job (synthesis, or a transcription when batch shares these workers) holds every stream slot of its worker.
    const wholeJobs = realtime.filter((s) => s.current && !s.current.job.kind.startsWith("stream-")).length + this.queues.realtime.length;
    const lanes: LaneLoad[] = [{ lane: "live", capacity: capacity.live, inflight: streams + wholeJobs * perWorker }];
    if (capacity.batch !== undefined) {
      const running = this.slots.filter((s) => s.lane === "batch" && s.current).length;
      lanes.push({ lane: "batch", capacity: capacity.batch, inflight: running + this.queues.batch.length });
    }
    return lanes;
  }

  async transcribe(samples: Float32Array, options: TranscribeOptions = {}): Promise<Transcript> {
    const language = checkLanguage(this.stt, options.language);
    const t = (await this.submit({ kind: "transcribe", samples, vocabulary: options.vocabulary })) as Transcript;
    return language && !this.stt.languages.includes("*") ? { ...t, language } : t;
  }

  synthesize(text: string, options: SynthesizeOptions = {}): AsyncIterable<Int16Array> {
    return this.synthesizeStream(text, options);
  }

  async openStream(options: StreamOptions): Promise<SttStreamSession> {
    const language = checkLanguage(this.stt, options.live.language);
    this.assertOpen();
    const slot = this.slots
      .filter((s) => s.lane === "realtime" && s.loaded && s.streams.size < this.config.streamsPerWorker)
      .sort((a, b) => a.streams.size - b.streams.size || Number(!!a.current) - Number(!!b.current))[0];
    if (!slot) throw new QueueFullError(this.retryAfter("realtime"));
    const streamId = this.nextId++;
    slot.streams.add(streamId);
    try {
      await this.submit(
        {
          kind: "stream-open",
          streamId,
          language,
          narrowband: isNarrowband(options.sourceRate),
          interimMs: options.interimMs ?? DEFAULT_INTERIM_MS,
          live: options.live,
          vocabulary: options.vocabulary,
          turns: options.turns,
        },
        slot,
      );
    } catch (err) {
      slot.streams.delete(streamId);
      throw err;
    }
    return new PinnedSession(this, slot, streamId);
  }

  /** Finish what is queued and running, then stop the workers. */
  close(): Promise<void> {
    if (!this.closed) {
      this.closing = true;
      this.closed = (async () => {
        while (this.slots.some((s) => s.current || s.pinned.length > 0) || this.queued() > 0) {
          await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
        }
        await Promise.all(this.slots.map((s) => this.stopWorker(s)));
      })();
    }
    return this.closed;
  }

  /** Run a job: pinned to a worker (live sessions) or on the first free one; queue-full fails at once. */
  submit(job: Job, pinned?: Slot, onChunk?: (pcm: Int16Array) => void, id = this.nextId++): Promise<JobValue> {
    return new Promise<JobValue>((resolve, reject) => {
      const pending: Pending = { id, job, resolve, reject, onChunk };
      if (pinned) {
        if (!this.slots.includes(pinned)) return reject(new Error("the live session's worker has stopped"));
        pinned.pinned.push(pending);
        this.dispatch(pinned);
        return;
      }
      if (this.closing) return reject(new Error("the engine pool is shutting down"));
      const lane = this.laneOf(job.kind);
      const free = this.freeSlot(lane);
      if (free) {
        this.queues[lane].push(pending);
        this.dispatch(free);
        return;
      }
      if (this.queueFull(lane)) return reject(new QueueFullError(this.retryAfter(lane)));
      this.queues[lane].push(pending);
    });
  }

  admit(kind: "transcribe" | "synthesize" = "transcribe"): void {
    const lane = this.laneOf(kind);
    if (!this.freeSlot(lane) && this.queueFull(lane)) throw new QueueFullError(this.retryAfter(lane));
  }

  private laneOf(kind: Job["kind"]): Lane {
    return kind === "transcribe" && this.config.batchWorkers > 0 ? "batch" : "realtime";
  }

  private freeSlot(lane: Lane): Slot | undefined {
    return this.slots.find((s) => s.lane === lane && s.loaded && !s.current && s.pinned.length === 0);
  }

  private queueFull(lane: Lane): boolean {
    return this.queues[lane].length >= this.config.queueMax;
  }

  private queued(): number {
    return this.queues.realtime.length + this.queues.batch.length;
  }

  /** Merge audio into a session's push that is still waiting for its worker, so a fast sender cannot pile up jobs. */
  coalescePush(slot: Slot, streamId: number, samples: Float32Array): Promise<StreamEvent[]> | undefined {
    const waiting = slot.pinned.find((p) => p.job.kind === "stream-push" && p.job.streamId === streamId);
    if (!waiting || waiting.job.kind !== "stream-push") return undefined;
    const merged = new Float32Array(waiting.job.samples.length + samples.length);
    merged.set(waiting.job.samples);
    merged.set(samples, waiting.job.samples.length);
    waiting.job.samples = merged;
    // The merged job's results go to the latest caller; the earlier one resolves with nothing.
    const earlier = waiting.resolve;
    return new Promise((resolve, reject) => {
      waiting.resolve = (value) => {
        earlier([]);
        resolve(value as StreamEvent[]);
      };
      const earlierReject = waiting.reject;
      waiting.reject = (err) => {
        earlierReject(err);
        reject(err);
      };
    });
  }

  releaseStream(slot: Slot, streamId: number): void {
    slot.streams.delete(streamId);
  }

  private assertOpen(): void {
    if (this.closing) throw new Error("the engine pool is shutting down");
  }

  private retryAfter(lane: Lane): number {
    const workers = Math.max(1, this.slots.filter((s) => s.lane === lane).length);
    return Math.max(1, Math.ceil(((this.queues[lane].length + 1) * this.avgJobS) / workers));
  }

  private async *synthesizeStream(text: string, options: SynthesizeOptions): AsyncGenerator<Int16Array> {
    const voice = resolveVoice(options.voice, this.tts.voices ?? [], this.defaultVoice);
    const speed = options.speed ?? 1;
    if (!Number.isFinite(speed) || speed < 0.25 || speed > 4) throw new EngineInputError(`speed must be between 0.25 and 4.0, got ${speed}`);
    const chunks: Int16Array[] = [];
    let wake: (() => void) | undefined;
    let finished = false;
    let failure: Error | undefined;
    const id = this.nextId++;
    const job = this.submit(
      { kind: "synthesize", text, voice, speed },
      undefined,
      (pcm) => {
        chunks.push(pcm);
        wake?.();
      },
      id,
    );
    job.then(
      () => {
        finished = true;
        wake?.();
      },
      (err: Error) => {
        failure = err;
        finished = true;
        wake?.();
      },
    );
    let complete = false;
    try {
      for (;;) {
        while (chunks.length > 0) yield chunks.shift()!;
        if (failure) throw failure;
        if (finished) break;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      complete = true;
    } finally {
      // The consumer stopped early (client went away): stop synthesizing after the current piece.
      if (!complete && !finished) this.cancel(id);
    }
  }

  private cancel(id: number): void {
    for (const queue of Object.values(this.queues)) {
      const queued = queue.findIndex((p) => p.id === id);
      if (queued >= 0) return void queue.splice(queued, 1)[0].resolve(null);
    }
    const slot = this.slots.find((s) => s.current?.id === id);
    slot?.worker.postMessage({ id, kind: "cancel" } satisfies ToWorker);
  }

  private dispatch(slot: Slot): void {
    if (!slot.loaded || slot.current) return;
    const next = slot.pinned.shift() ?? this.queues[slot.lane].shift();
    if (!next) {
      if (this.slots.every((s) => !s.current && s.pinned.length === 0) && this.queued() === 0) {
        this.idleWaiters.splice(0).forEach((w) => w());
      }
      return;
    }
    slot.current = { ...next, startedAt: performance.now() };
    slot.worker.postMessage({ id: next.id, ...next.job } as ToWorker);
  }

  private finish(slot: Slot, id: number, outcome: { value: JobValue } | { error: Error }): void {
    const current = slot.current;
    if (!current || current.id !== id) return;
    slot.current = undefined;
    const took = (performance.now() - current.startedAt) / 1000;
    this.avgJobS = 0.8 * this.avgJobS + 0.2 * took;
    if ("error" in outcome) current.reject(outcome.error);
    else current.resolve(outcome.value);
    this.dispatch(slot);
    // A free worker also serves the shared queue when its own pinned jobs are done.
    for (const s of this.slots) if (!s.current) this.dispatch(s);
  }

  private spawn(lane: Lane): Promise<void> {
    const entry = workerEntry();
    const nice = lane === "batch" ? this.config.batchNice : this.config.workerNice;
    const worker = new Worker(entry.script, { eval: entry.eval, workerData: { config: this.config, nice, lane } });
    const slot: Slot = { worker, lane, loaded: false, pinned: [], streams: new Set() };
    this.slots.push(slot);
    return new Promise<void>((resolve, reject) => {
      worker.on("message", (msg: FromWorker) => {
        switch (msg.type) {
          case "ready":
            this.stt = msg.stt;
            if (msg.tts) {
              this.tts = msg.tts.info;
              this.defaultVoice = msg.tts.defaultVoice;
            }
            slot.loaded = true;
            resolve();
            this.dispatch(slot);
            break;
          case "load-error":
            reject(rebuildError(msg.name, msg.message));
            break;
          case "chunk":
            if (slot.current?.id === msg.id) slot.current.onChunk?.(msg.pcm);
            break;
          case "result":
            this.finish(slot, msg.id, { value: msg.value });
            break;
          case "error":
            this.finish(slot, msg.id, { error: rebuildError(msg.name, msg.message) });
            break;
          case "closed":
            slot.onClosed?.();
            break;
        }
      });
      worker.on("error", (err) => {
        if (!slot.loaded) reject(err);
      });
      worker.on("exit", (code) => this.onExit(slot, code, reject));
    });
  }

  /**
   * The engines' native memory (pocketsphinx's decoders: 1.9 GB for two workers with the default settings) is
   * outside the garbage collector, and terminate() alone left it allocated in this process: a process that starts
   * pools again (a test run) grew by a pool each time. So the worker frees it first; terminate() follows regardless.
   */
  private async stopWorker(slot: Slot): Promise<void> {
    if (slot.loaded) {
      const freed = new Promise<void>((resolve) => {
        slot.onClosed = resolve;
        slot.worker.once("exit", () => resolve());
        setTimeout(resolve, CLOSE_GRACE_MS).unref();
      });
      slot.worker.postMessage({ kind: "close" } satisfies ToWorker);
      await freed;
    }
    await slot.worker.terminate();
  }

  /** A worker that dies unexpectedly fails its work and live sessions, and is replaced. */
  private onExit(slot: Slot, code: number, rejectLoad: (err: Error) => void): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    this.slots.splice(index, 1);
    // terminate() during close() is the expected way out; nothing is pending by then.
    if (this.closing) return;
    const lost = new Error(`an engine worker stopped unexpectedly (exit code ${code})`);
    rejectLoad(lost);
    slot.current?.reject(lost);
    slot.pinned.splice(0).forEach((p) => p.reject(lost));
    if (!slot.loaded) return;
    this.spawn(slot.lane).then(
      () => undefined,
      () => undefined,
    );
  }
}

/** A live session as the API sees it; every call runs on the session's worker, in order. */
class PinnedSession implements SttStreamSession {
  private closed = false;

  constructor(
    private readonly pool: WorkerPool,
    private readonly slot: Slot,
    private readonly streamId: number,
  ) {}

  async push(samples: Float32Array): Promise<StreamEvent[]> {
    this.assertOpen();
    const merged = this.pool.coalescePush(this.slot, this.streamId, samples);
    if (merged) return merged;
    return (await this.pool.submit({ kind: "stream-push", streamId: this.streamId, samples }, this.slot)) as StreamEvent[];
  }

  async finalize(): Promise<StreamEvent[]> {
    this.assertOpen();
    return (await this.pool.submit({ kind: "stream-finalize", streamId: this.streamId }, this.slot)) as StreamEvent[];
  }

  async configure(options: { vocabulary?: Vocabulary; turns?: Partial<TurnOptions> }): Promise<void> {
    this.assertOpen();
    await this.pool.submit({ kind: "stream-configure", streamId: this.streamId, vocabulary: options.vocabulary, turns: options.turns }, this.slot);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.pool.submit({ kind: "stream-close", streamId: this.streamId }, this.slot);
    } finally {
      this.pool.releaseStream(this.slot, this.streamId);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("the live session is closed");
  }
}
