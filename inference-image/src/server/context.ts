/** What every route handler gets: the request, its response, and the server's shared parts. */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Speech } from "../engines/types";
import type { Feature } from "../shared/license-protocol";
import type { Logger } from "../shared/log";
import { type EncodedAudio, framesToMono, Resampler } from "./audio";
import type { ServerConfig } from "./config";
import { HttpError } from "./errors";
import type { LicenseGate } from "./license";
import type { ServerMetrics } from "./metrics";

export interface Deps {
  speech: Speech;
  config: ServerConfig;
  license: LicenseGate;
  metrics: ServerMetrics;
  logger: Logger;
}

/** What a request used, reported to the license proxy as a usage record (metadata only). */
export interface Usage {
  feature: Feature;
  model: string;
  features: string[];
  audioSeconds: number;
  characters: number;
}

export interface RequestContext extends Deps {
  req: IncomingMessage;
  res: ServerResponse;
  query: URLSearchParams;
  requestId: string;
  startedAt: number;
  usage: Usage;
}

/** Decoded audio as the STT engine wants it: mono float32 at its rate, within the duration limit. */
export interface SttInput {
  samples: Float32Array;
  durationS: number;
  channels: number;
}

/**
 * Decode, mix and resample in ~1 s slices, yielding to the event loop between them: a large upload
 * (MAX_BODY_BYTES is tens of MB) would otherwise hold the main thread for hundreds of milliseconds,
 * and health checks and every other request with it. The duration limit is checked before any decoding.
 */
export async function prepareStt(ctx: Deps, audio: EncodedAudio): Promise<SttInput> {
  const durationS = audio.frames / audio.sampleRate;
  if (durationS > ctx.config.MAX_AUDIO_SECONDS) {
    throw new HttpError(413, "audio_too_long", `the audio lasts ${durationS.toFixed(1)} s; the limit is ${ctx.config.MAX_AUDIO_SECONDS} s`);
  }
  const outRate = ctx.speech.stt.sampleRate;
  const resampler = audio.sampleRate === outRate ? undefined : new Resampler(audio.sampleRate, outRate);
  const parts: Float32Array[] = [];
  for (let from = 0; from < audio.frames; from += audio.sampleRate) {
    if (from > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const mono = framesToMono(audio, from, Math.min(audio.frames, from + audio.sampleRate));
    parts.push(resampler ? resampler.process(mono) : mono);
  }
  if (resampler) parts.push(resampler.flush());
  const samples = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    samples.set(p, offset);
    offset += p.length;
  }
  return { samples, durationS, channels: audio.channels };
}
