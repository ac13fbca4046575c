/** Build the engines a config names (inside a worker, or in the startup probe process). */
import { DEFAULT_POCKETSPHINX_MODEL_DIR, type EngineConfig } from "./config";
import type { SttEngine, TtsEngine } from "./engine";
import { FliteTts } from "./flite";
import { PocketsphinxStt } from "./pocketsphinx";
import { SherpaStt, SherpaTts } from "./sherpa";
import { sileroModelPath } from "./vad";

export interface Engines {
  stt: SttEngine;
  tts: TtsEngine;
  vadModel: string;
}

export function loadEngines(config: EngineConfig): Engines {
  const stt = config.stt.engine === "pocketsphinx" ? new PocketsphinxStt(config.stt.modelDir ?? DEFAULT_POCKETSPHINX_MODEL_DIR) : new SherpaStt(config);
  const tts = config.tts.engine === "flite" ? new FliteTts(config.tts.defaultVoice) : new SherpaTts(config);
  return { stt, tts, vadModel: sileroModelPath() };
}
