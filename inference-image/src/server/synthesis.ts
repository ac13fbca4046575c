/** Streams synthesized speech to an HTTP response as it is produced (shared by /v1/audio/speech and /v1/speak). */
import type { SynthesizeOptions } from "../engines/types";
import { HttpError } from "../shared/http";
import { createEncoder } from "../audio/codecs/encoders";
import type { EncoderSpec, StreamEncoder } from "../audio/codecs/stream-encoder";
import { floatToInt16, int16ToFloat } from "../audio/pcm";
import { Resampler } from "../audio/resample";
import type { RequestContext } from "./context";
import { write } from "./http";

export interface SpeechOutput {
  /** What to encode: its codec, container, rate (the engine's output is resampled to it) and bit rate. */
  spec: EncoderSpec;
  headers: Record<string, string>;
}

/** The engine's PCM16 at another rate (shared by the REST speech routes and the speak WebSocket). */
export class RateConverter {
  private readonly resampler: Resampler | undefined;

  constructor(engineRate: number, rate: number) {
    this.resampler = rate === engineRate ? undefined : new Resampler(engineRate, rate);
  }

  convert(chunk: Int16Array): Int16Array {
    return this.resampler ? floatToInt16(this.resampler.process(int16ToFloat(chunk))) : chunk;
  }

  /** The resampler's tail, after the last chunk; undefined when nothing is resampled. */
  flush(): Int16Array | undefined {
    return this.resampler && floatToInt16(this.resampler.flush());
  }
}

/** The deployment's text limit (MAX_TEXT_CHARS), which no schema can know. */
export function checkTextLength(ctx: RequestContext, text: string, field: string): string {
  if (text.length > ctx.config.MAX_TEXT_CHARS) {
    throw new HttpError(400, "input_too_long", `${field} has ${text.length} characters; the limit is ${ctx.config.MAX_TEXT_CHARS}`);
  }
  return text;
}

/**
 * Pull the first chunk and start the encoder before sending headers, so engine refusals (unknown voice, full
 * queue) and encoder failures still become 4xx/429 answers; after that, each chunk is resampled, encoded and
 * written as soon as the engine yields it (a codec that holds a partial frame sends it with the next chunk).
 * The response is left open: the pipeline records the usage, then ends it.
 */
export async function streamSpeech(ctx: RequestContext, text: string, options: SynthesizeOptions, out: SpeechOutput): Promise<void> {
  const { speech, res, metrics } = ctx;
  const engineRate = speech.tts.sampleRate;
  const iterator = speech.synthesize(text, options)[Symbol.asyncIterator]();
  const starting = createEncoder(out.spec);
  let encoder: StreamEncoder;
  let first: IteratorResult<Int16Array>;
  try {
    [first, encoder] = await Promise.all([iterator.next(), starting]);
  } catch (err) {
    void starting.then((e) => e.close(), () => undefined);
    await iterator.return?.();
    throw err;
  }
  const converter = new RateConverter(engineRate, out.spec.sampleRate);
  let engineSamples = 0;
  res.writeHead(200, { "content-type": encoder.contentType, "transfer-encoding": "chunked", ...out.headers });
  let next = first;
  let firstByte = true;
  const send = async (bytes: Buffer): Promise<boolean> => {
    if (bytes.length === 0) return true;
    // Headers, the container's header and the first audio leave in one write, so the first packet carries audio.
    if (!(await write(res, bytes))) return false;
    if (firstByte) {
      metrics.ttsFirstByte.observe((performance.now() - ctx.startedAt) / 1000);
      firstByte = false;
    }
    return true;
  };
  let complete = false;
  try {
    while (!next.done) {
      engineSamples += next.value.length;
      if (!(await send(await encoder.push(converter.convert(next.value))))) return;
      next = await iterator.next();
    }
    const tail = converter.flush();
    if (tail && !(await send(await encoder.push(tail)))) return;
    complete = await send(await encoder.end());
  } finally {
    // The client hung up mid-stream (or the encoder failed): stop the engine and free the codec.
    if (!complete) {
      encoder.close();
      await iterator.return?.();
      res.destroy();
    }
    const seconds = engineSamples / engineRate;
    ctx.usage.audioSeconds = seconds;
    if (seconds > 0) metrics.realTimeFactor.observe({ feature: "tts" }, (performance.now() - ctx.startedAt) / 1000 / seconds);
  }
}
