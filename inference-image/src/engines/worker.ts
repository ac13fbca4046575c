/**
 * An engine worker thread: loads the models once, then runs one job at a time for the pool. Run as a
 * plain process (not a thread) it is the startup probe: it loads the models and exits 0, or prints the
 * error and exits 1, so a malformed model that aborts onnxruntime cannot take the server down with it.
 */
import fs from "node:fs";
import os from "node:os";
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import type { EngineConfig } from "./config";
import type { UtteranceDecoder } from "./engine";
import { loadEngines, type Engines } from "./load";
import type { FromWorker, JobValue, ToWorker } from "./protocol";
import { splitForSynthesis } from "./sentences";
import { StreamSession } from "./streaming";
import { TurnStream } from "./turn-stream";
import { EngineInputError, type Vocabulary } from "./types";
import { SpeechDetector, vadForEndpointing } from "./vad";

/**
 * Live sessions' decoders and detectors are made ahead and kept: creating a pocketsphinx decoder loads its
 * model again (0.6-0.9 s measured) and a Silero detector its ONNX session (~140 ms), time in which every
 * other stream on this worker would stall. Realtime workers make `streamsPerWorker` decoders at load.
 */
function serve(engines: Engines, port: NonNullable<typeof parentPort>, liveDecoders: number, maxDetectors: number): void {
  const post = (msg: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(msg, transfer ?? []);
  const idleDecoders: UtteranceDecoder[] = Array.from({ length: liveDecoders }, () => engines.stt.createDecoder());
  /** Narrowband (telephony) sessions' decoders, kept apart: a decoder adapts to the audio it has heard. Made on first use. */
  const idleNarrowband: UtteranceDecoder[] = [];
  /**
   * Likewise detectors, each made for one endpointing setting: a new one per session leaked its onnxruntime
   * session (~100 MB, see vad.ts), so a worker makes at most maxDetectors and reuses them after reset().
   */
  const idleDetectors: { detector: SpeechDetector; endpointingMs: number | false }[] = [];
  let detectors = 0;
  /** Live sessions: utterance by utterance (Deepgram's v1 listen, OpenAI's server VAD) or turn by turn (Flux, semantic VAD). */
  const sessions = new Map<number, { stream: StreamSession | TurnStream; endpointingMs: number | false; narrowband: boolean }>();
  /** Decoders made for one session's vocabulary: freed when it is done with them, never pooled. */
  const ownDecoders = new WeakSet<UtteranceDecoder>();
  const liveDecoder = (narrowband: boolean, vocabulary: Vocabulary | undefined): UtteranceDecoder => {
    if (vocabulary && vocabulary.terms.length > 0) {
      const own = engines.stt.createDecoder(narrowband, vocabulary);
      ownDecoders.add(own);
      return own;
    }
    return (narrowband ? idleNarrowband : idleDecoders).pop() ?? engines.stt.createDecoder(narrowband);
  };
  const release = (decoder: UtteranceDecoder, narrowband: boolean): void => {
    if (ownDecoders.has(decoder)) decoder.free();
    else (narrowband ? idleNarrowband : idleDecoders).push(decoder);
  };
  const cancelled = new Set<number>();

  /**
   * An idle detector made for this endpointing, else a new one while under maxDetectors; past that (clients
   * sending ever-new values) the idle one made for the nearest endpointing: memory stays bounded.
   */
  const detectorFor = (endpointingMs: number | false): SpeechDetector => {
    const distance = (e: number | false) => (e === endpointingMs ? 0 : e === false || endpointingMs === false ? Infinity : Math.abs(e - endpointingMs));
    let best = -1;
    idleDetectors.forEach((d, i) => {
      if (best < 0 || distance(d.endpointingMs) < distance(idleDetectors[best].endpointingMs)) best = i;
    });
    if (best >= 0 && (distance(idleDetectors[best].endpointingMs) === 0 || detectors >= maxDetectors)) return idleDetectors.splice(best, 1)[0].detector;
    detectors++;
    return new SpeechDetector(engines.vadModel, engines.stt.info.sampleRate, vadForEndpointing(endpointingMs));
  };

  const session = (id: number): StreamSession | TurnStream => {
    const s = sessions.get(id);
    if (!s) throw new Error(`no live session ${id} in this worker`);
    return s.stream;
  };

  async function run(msg: Exclude<ToWorker, { kind: "cancel" | "close" }>): Promise<JobValue> {
    switch (msg.kind) {
      case "transcribe":
        return engines.stt.transcribe(msg.samples, { vocabulary: msg.vocabulary });
      case "synthesize": {
        const tts = engines.tts;
        if (!tts) throw new Error("speech synthesis was sent to a batch worker, which loads no TTS model");
        const pieces = splitForSynthesis(msg.text);
        if (pieces.length === 0) throw new EngineInputError("the text has nothing to speak");
        for (const piece of pieces) {
          if (cancelled.has(msg.id)) break;
          const pcm = tts.synthesize(piece, msg.voice, msg.speed);
          post({ type: "chunk", id: msg.id, pcm }, [pcm.buffer as ArrayBuffer]);
          // Let a cancel message from the pool in between pieces.
          await new Promise((resolve) => setImmediate(resolve));
        }
        cancelled.delete(msg.id);
        return null;
      }
      case "stream-open": {
        if (msg.turns) {
          // Turn streams want a pause reported after one window of silence (VAD_FOR_TURNS), which is what endpointing 0 makes.
          const turns = new TurnStream(liveDecoder(msg.narrowband, msg.vocabulary), detectorFor(0), engines.stt.info.sampleRate, msg.language, msg.turns);
          turns.onRetire = (d) => release(d, msg.narrowband);
          sessions.set(msg.streamId, { stream: turns, endpointingMs: 0, narrowband: msg.narrowband });
          return null;
        }
        const stream = new StreamSession(liveDecoder(msg.narrowband, msg.vocabulary), detectorFor(msg.live.endpointing), engines.stt.info.sampleRate, msg.language, msg.live, msg.interimMs, (d) =>
          release(d, msg.narrowband),
        );
        sessions.set(msg.streamId, { stream, endpointingMs: msg.live.endpointing, narrowband: msg.narrowband });
        return null;
      }
      case "stream-configure": {
        const s = sessions.get(msg.streamId);
        if (!s) throw new Error(`no live session ${msg.streamId} in this worker`);
        if (msg.vocabulary) s.stream.replaceDecoder(liveDecoder(s.narrowband, msg.vocabulary));
        if (msg.turns && s.stream instanceof TurnStream) s.stream.configure(msg.turns);
        return null;
      }
      case "stream-push":
        return session(msg.streamId).push(msg.samples);
      case "stream-finalize": {
        const s = session(msg.streamId);
        return s instanceof TurnStream ? s.finish() : s.finalize();
      }
      case "stream-close": {
        const s = sessions.get(msg.streamId);
        if (s) {
          sessions.delete(msg.streamId);
          if (s.stream instanceof TurnStream) release(s.stream.close(), s.narrowband);
          else s.stream.close();
          s.stream.detector.reset();
          idleDetectors.push({ detector: s.stream.detector, endpointingMs: s.endpointingMs });
        }
        return null;
      }
    }
  }

  port.on("message", (msg: ToWorker) => {
    if (msg.kind === "cancel") {
      cancelled.add(msg.id);
      return;
    }
    if (msg.kind === "close") {
      // The pool closes once no job runs and no session is open: what is left are the kept decoders and the engine's own.
      for (const decoder of [...idleDecoders.splice(0), ...idleNarrowband.splice(0)]) decoder.free();
      engines.stt.free?.();
      post({ type: "closed" });
      return;
    }
    run(msg)
      .then(
        (value) => post({ type: "result", id: msg.id, value }),
        (err: Error) => post({ type: "error", id: msg.id, name: err.name, message: err.message }),
      )
      // After answering, so the pool is never kept waiting for it.
      .then(() => setImmediate(() => engines.tts?.idle?.()));
  });
}

/**
 * Lower this thread's scheduling priority only (on Linux, setpriority() with a thread id applies to that
 * thread), so decoding never delays the event loop thread. Elsewhere, or if /proc is not mounted, the
 * thread keeps the normal priority: slower health answers under load, nothing worse.
 */
function lowerThreadPriority(nice: number): void {
  if (nice === 0 || process.platform !== "linux") return;
  try {
    const tid = Number(fs.readlinkSync("/proc/thread-self").split("/").pop());
    if (Number.isInteger(tid) && tid > 0) os.setPriority(tid, nice);
  } catch {
    // Best effort by design (see above).
  }
}

function describe(err: unknown): { name: string; message: string } {
  const e = err instanceof Error ? err : new Error(String(err));
  return { name: e.name, message: e.message };
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  try {
    lowerThreadPriority(workerData.nice as number);
    const config = workerData.config as EngineConfig;
    const realtime = workerData.lane === "realtime";
    const engines = loadEngines(config, { tts: realtime });
    serve(engines, port, realtime ? config.streamsPerWorker : 0, config.streamsPerWorker);
    const tts = engines.tts && { info: engines.tts.info, defaultVoice: engines.tts.defaultVoice };
    port.postMessage({ type: "ready", stt: engines.stt.info, tts } satisfies FromWorker);
  } catch (err) {
    port.postMessage({ type: "load-error", ...describe(err) } satisfies FromWorker);
  }
} else if (isMainThread && process.env.ENGINE_PROBE_CONFIG) {
  try {
    loadEngines(JSON.parse(process.env.ENGINE_PROBE_CONFIG) as EngineConfig);
    process.exit(0);
  } catch (err) {
    process.stderr.write(describe(err).message + "\n");
    process.exit(1);
  }
}
