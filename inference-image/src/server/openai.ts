/** OpenAI-compatible routes: POST /v1/audio/transcriptions (multipart) and POST /v1/audio/speech (JSON). */
import { isOpusRate } from "../audio/codecs/opus-rates";
import type { EncoderSpec } from "../audio/codecs/stream-encoder";
import { decodeUpload, inspectAudio } from "../audio/upload";
import type { SpeechBody, SpeechFormat, TranscriptionForm } from "../params/openai-audio";
import { jsonReply, type Reply, type RequestContext, textReply } from "./context";
import { toSrt, toVerboseJson, toVtt } from "./formats";
import { resolveModel } from "./models";
import { checkTextLength, streamSpeech } from "./synthesis";

/** OpenAI's `pcm` is defined as 24 kHz 16-bit mono: keep that, so clients that play it raw sound right. */
const OPENAI_PCM_RATE = 24000;

/** Codec, container, rate and bit rate per response_format (Opus takes 8/12/16/24/48 kHz only). */
function speechSpec(format: SpeechFormat, modelRate: number): EncoderSpec {
  switch (format) {
    case "mp3":
      return { encoding: "mp3", container: "none", sampleRate: modelRate, bitRate: 64000 };
    case "opus":
      return { encoding: "opus", container: "ogg", sampleRate: isOpusRate(modelRate) ? modelRate : 24000, bitRate: 32000 };
    case "aac":
      return { encoding: "aac", container: "none", sampleRate: modelRate, bitRate: 64000 };
    case "flac":
      return { encoding: "flac", container: "none", sampleRate: modelRate };
    case "wav":
      return { encoding: "linear16", container: "wav", sampleRate: modelRate };
    case "pcm":
      return { encoding: "linear16", container: "none", sampleRate: OPENAI_PCM_RATE };
  }
}

export async function transcriptions(ctx: RequestContext, _query: unknown, form: TranscriptionForm): Promise<Reply> {
  const model = resolveModel(ctx.speech, "stt", form.model);
  ctx.usage.model = model.id;
  const granularities = form["timestamp_granularities[]"];
  const input = await decodeUpload(inspectAudio(form.file), { sampleRate: ctx.speech.stt.sampleRate, maxSeconds: ctx.config.MAX_AUDIO_SECONDS });
  ctx.usage.audioSeconds = input.durationS;
  ctx.usage.features.push(`format:${form.response_format}`, ...granularities.map((g) => `timestamps:${g}`), ...(form.stream ? ["stream"] : []));
  const t0 = performance.now();
  const t = await ctx.speech.transcribe(input.samples, { language: form.language });
  ctx.metrics.realTimeFactor.observe({ feature: "stt" }, (performance.now() - t0) / 1000 / Math.max(input.durationS, 1e-3));

  if (form.stream) {
    // OpenAI's streamed transcription (server-sent events); this engine finishes the text at once.
    const events = [
      { type: "transcript.text.delta", delta: t.text },
      { type: "transcript.text.done", text: t.text },
    ];
    return textReply(200, events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join(""), "text/event-stream");
  }
  switch (form.response_format) {
    case "text":
      return textReply(200, t.text, "text/plain; charset=utf-8");
    case "srt":
      return textReply(200, toSrt(t), "application/x-subrip; charset=utf-8");
    case "vtt":
      return textReply(200, toVtt(t), "text/vtt; charset=utf-8");
    case "verbose_json": {
      const words = granularities.includes("word");
      return jsonReply(200, toVerboseJson(t, words, !words || granularities.includes("segment")));
    }
    default:
      return jsonReply(200, { text: t.text, usage: { type: "duration", seconds: Math.ceil(input.durationS) } });
  }
}

export async function speech(ctx: RequestContext, _query: unknown, body: SpeechBody): Promise<void> {
  const model = resolveModel(ctx.speech, "tts", body.model);
  ctx.usage.model = model.id;
  const input = checkTextLength(ctx, body.input, "input");
  ctx.usage.characters = input.length;
  ctx.usage.features.push(`format:${body.response_format}`);
  await streamSpeech(ctx, input, { voice: body.voice, speed: body.speed }, { spec: speechSpec(body.response_format, model.sampleRate), headers: {} });
}
