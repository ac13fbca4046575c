/** Streams synthesized speech to an HTTP response as it is produced (shared by /v1/audio/speech and /v1/speak). */
import type { SynthesizeOptions } from "../engines/types";
import { floatToInt16, int16ToBuffer, int16ToFloat, Resampler, wavHeader } from "./audio";
import type { RequestContext } from "./context";
import { HttpError } from "./errors";
import { write } from "./http";

export interface SpeechOutput {
  container: "wav" | "none";
  sampleRate: number;
  headers: Record<string, string>;
}

export function checkText(ctx: RequestContext, text: unknown, field: string): string {
  if (typeof text !== "string" || text.trim().length === 0) throw new HttpError(400, "invalid_input", `${field} must be a non-empty string`);
  if (text.length > ctx.config.MAX_TEXT_CHARS) {
    throw new HttpError(400, "input_too_long", `${field} has ${text.length} characters; the limit is ${ctx.config.MAX_TEXT_CHARS}`);
  }
  return text;
}

export function checkSpeed(value: unknown, min: number, max: number): number {
  if (value === undefined || value === null) return 1;
  const speed = typeof value === "string" ? Number(value) : value;
  if (typeof speed !== "number" || !Number.isFinite(speed) || speed < min || speed > max) {
    throw new HttpError(400, "invalid_parameter", `speed must be a number from ${min} to ${max}`);
  }
  return speed;
}

/**
 * Pull the first chunk before sending headers, so engine refusals (unknown voice, full queue) still
 * become 4xx/429 answers; after that, every chunk is written as soon as the engine yields it.
 */
export async function streamSpeech(ctx: RequestContext, text: string, options: SynthesizeOptions, out: SpeechOutput): Promise<void> {
  const { speech, res, metrics } = ctx;
  const engineRate = speech.tts.sampleRate;
  const iterator = speech.synthesize(text, options)[Symbol.asyncIterator]();
  const first = await iterator.next();
  const resampler = out.sampleRate === engineRate ? undefined : new Resampler(engineRate, out.sampleRate);
  const convert = (chunk: Int16Array): Buffer =>
    int16ToBuffer(resampler ? floatToInt16(resampler.process(int16ToFloat(chunk))) : chunk);
  let engineSamples = 0;
  res.writeHead(200, {
    "content-type": out.container === "wav" ? "audio/wav" : `audio/l16; rate=${out.sampleRate}; channels=1`,
    "transfer-encoding": "chunked",
    ...out.headers,
  });
  let next = first;
  let firstByte = true;
  try {
    while (!next.done) {
      engineSamples += next.value.length;
      const pcm = convert(next.value);
      // Headers, WAV header and the first audio leave in one write, so the first packet carries audio.
      if (!(await write(res, firstByte && out.container === "wav" ? Buffer.concat([wavHeader(out.sampleRate), pcm]) : pcm))) return;
      if (firstByte) {
        metrics.ttsFirstByte.observe((performance.now() - ctx.startedAt) / 1000);
        firstByte = false;
      }
      next = await iterator.next();
    }
    if (resampler) await write(res, int16ToBuffer(floatToInt16(resampler.flush())));
    res.end();
  } finally {
    // The client hung up mid-stream: tell the engine to stop producing.
    if (!res.writableEnded) await iterator.return?.();
    const seconds = engineSamples / engineRate;
    ctx.usage.audioSeconds = seconds;
    metrics.audioSeconds.inc({ feature: "tts" }, seconds);
    metrics.characters.inc(text.length);
    if (seconds > 0) metrics.realTimeFactor.observe({ feature: "tts" }, (performance.now() - ctx.startedAt) / 1000 / seconds);
  }
}
