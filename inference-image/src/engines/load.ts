/** Build the engines a config names (inside a worker, or in the startup probe process). */
import { DEFAULT_POCKETSPHINX_MODEL_DIR, type EngineConfig } from "./config";
import type { SttEngine, TtsEngine } from "./engine";
import { FliteTts } from "./flite";
import { PocketsphinxStt } from "./pocketsphinx";
import { SherpaStt, SherpaTts } from "./sherpa";
import { sileroModelPath } from "./vad";

export interface Engines {
  stt: SttEngine;
  /** Absent in batch workers: they only transcribe, so a TTS model there would be memory and start-up for nothing. */
  tts?: TtsEngine;
  vadModel: string;
}

export function loadEngines(config: EngineConfig, options: { tts: boolean } = { tts: true }): Engines {
  const stt: SttEngine = config.stt.engine === "pocketsphinx" ? new PocketsphinxStt(config.stt.modelDir ?? DEFAULT_POCKETSPHINX_MODEL_DIR, config.stt.pocketsphinx, config.stt.pocketsphinxBatch) : new SherpaStt(config);
  const makeTts = (): TtsEngine => (config.tts.engine === "flite" ? new FliteTts(config.tts.defaultVoice) : new SherpaTts(config));
  const tts = options.tts ? makeTts() : undefined;
  // The first call of each engine pays for lazy compilation and page faults: pay it now, not on the first request.
  tts?.synthesize("Ready.", tts.defaultVoice, 1);
  stt.transcribe(new Float32Array(stt.info.sampleRate / 2));
  tts?.idle?.();
  return { stt, tts, vadModel: sileroModelPath() };
}
