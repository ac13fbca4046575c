/** What every route handler gets: the request, its response, and the server's shared parts. */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Speech } from "../engines/types";
import { HttpError } from "../shared/http";
import type { Feature } from "../shared/license-protocol";
import type { Logger } from "../shared/log";
import { concatSamples } from "../shared/samples";
import { Resampler, type UploadAudio } from "./audio";
import { monoChunks } from "./codecs";
import type { ServerConfig } from "./config";
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

/** Work this long on the event loop, then yield, so health checks and other requests are served meanwhile. */
const SLICE_MS = 10;

/**
 * Decode, mix and resample in slices, yielding to the event loop between them: a large upload
 * (MAX_BODY_BYTES is tens of MB) would otherwise hold the main thread for hundreds of milliseconds,
 * and health checks and every other request with it. The duration limit is checked as the audio is
 * decoded (before any decoding when the header declares it), so a small file that expands to hours
 * is refused after MAX_AUDIO_SECONDS of it, with memory bounded by that. Compressed audio is decoded
 * in full before it is resampled: decoding is ~10x cheaper than resampling, so a decompression bomb is
 * refused within a second instead of after seconds of resampling audio that will be thrown away.
 */
export async function prepareStt(ctx: Deps, audio: UploadAudio): Promise<SttInput> {
  const limit = ctx.config.MAX_AUDIO_SECONDS;
  const tooLong = (what: string) => new HttpError(413, "audio_too_long", `the audio lasts ${what}; the limit is ${limit} s`);
  if (audio.kind === "pcm" && audio.frames / audio.sampleRate > limit) throw tooLong(`${(audio.frames / audio.sampleRate).toFixed(1)} s`);
  const outRate = ctx.speech.stt.sampleRate;
  let resampler: Resampler | undefined;
  let sourceRate = 0;
  let channels = 1;
  let durationS = 0;
  let lastYield = performance.now();
  const pause = async () => {
    if (performance.now() - lastYield < SLICE_MS) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    lastYield = performance.now();
  };
  const decoded: Float32Array[] = [];
  const parts: Float32Array[] = [];
  for await (const chunk of monoChunks(audio, outRate)) {
    if (sourceRate === 0) {
      sourceRate = chunk.sampleRate;
      channels = chunk.channels;
      resampler = sourceRate === outRate ? undefined : new Resampler(sourceRate, outRate);
    }
    durationS += chunk.samples.length / sourceRate;
    if (durationS > limit) throw tooLong(`more than ${limit} s`);
    // PCM's length was checked up front: resample as it goes, holding only the output.
    if (audio.kind === "pcm") parts.push(resampler ? resampler.process(chunk.samples) : chunk.samples);
    else decoded.push(chunk.samples);
    await pause();
  }
  // In one-second pieces: one decode call can yield minutes of audio, and resampling it at once would block.
  for (const samples of decoded.splice(0)) {
    for (let at = 0; at < samples.length; at += sourceRate) {
      const piece = samples.subarray(at, at + sourceRate);
      parts.push(resampler ? resampler.process(piece) : piece);
      await pause();
    }
  }
  if (resampler) parts.push(resampler.flush());
  const samples = concatSamples(parts);
  return { samples, durationS, channels };
}
