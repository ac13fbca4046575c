/** What every route handler gets: the request, its response, and the server's shared parts. */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Speech } from "../engines/types";
import type { Feature } from "../shared/license-protocol";
import type { Logger } from "../shared/log";
import { type Pcm, Resampler } from "./audio";
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

/** Resample in ~1 s slices, yielding between them so long uploads never stall health checks. */
export async function resampleYielding(samples: Float32Array, inRate: number, outRate: number): Promise<Float32Array> {
  if (inRate === outRate) return samples;
  const r = new Resampler(inRate, outRate);
  const parts: Float32Array[] = [];
  for (let i = 0; i < samples.length; i += inRate) {
    parts.push(r.process(samples.subarray(i, i + inRate)));
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  parts.push(r.flush());
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export async function prepareStt(ctx: Deps, pcm: Pcm): Promise<SttInput> {
  const durationS = pcm.samples.length / pcm.sampleRate;
  if (durationS > ctx.config.MAX_AUDIO_SECONDS) {
    throw new HttpError(413, "audio_too_long", `the audio lasts ${durationS.toFixed(1)} s; the limit is ${ctx.config.MAX_AUDIO_SECONDS} s`);
  }
  const samples = await resampleYielding(pcm.samples, pcm.sampleRate, ctx.speech.stt.sampleRate);
  return { samples, durationS, channels: pcm.channels };
}
