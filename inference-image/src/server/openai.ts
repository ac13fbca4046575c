/** OpenAI-compatible routes: POST /v1/audio/transcriptions (multipart) and POST /v1/audio/speech (JSON). */
import busboy from "busboy";
import { HttpError, onIncomplete, readJson, sendJson } from "../shared/http";
import { inspectAudio } from "./audio";
import { type EncoderSpec, isOpusRate } from "./codecs";
import { prepareStt, type RequestContext } from "./context";
import { toSrt, toVerboseJson, toVtt } from "./formats";
import { mediaType, sendText } from "./http";
import { resolveModel } from "./models";
import { checkSpeed, checkText, streamSpeech } from "./synthesis";

const TRANSCRIPTION_FORMATS = ["json", "text", "verbose_json", "srt", "vtt"] as const;
type TranscriptionFormat = (typeof TRANSCRIPTION_FORMATS)[number];
/** OpenAI's speech formats; mp3 is its default when `response_format` is omitted. */
export const SPEECH_FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"] as const;
type SpeechFormat = (typeof SPEECH_FORMATS)[number];
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

interface Multipart {
  file?: Buffer;
  fields: Map<string, string[]>;
}

function readMultipart(ctx: RequestContext): Promise<Multipart> {
  const { req, config } = ctx;
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { fileSize: config.MAX_BODY_BYTES, files: 1, fields: 32, fieldSize: 64 * 1024 } });
    } catch {
      reject(new HttpError(400, "invalid_multipart", "send multipart/form-data with a `file` part"));
      return;
    }
    const out: Multipart = { fields: new Map() };
    let failed = false;
    const chunks: Buffer[] = [];
    const fail = (err: HttpError) => {
      if (failed) return;
      failed = true;
      chunks.length = 0;
      req.unpipe(parser);
      req.resume();
      reject(err);
    };
    // A body that ends inside a part errors the part's stream too ("Unexpected end of form"): every stream needs a listener.
    const malformed = () => fail(new HttpError(400, "invalid_multipart", "the multipart body is malformed or truncated"));
    onIncomplete(req, fail);
    parser.on("file", (name, stream) => {
      stream.on("error", malformed);
      if (name !== "file") {
        stream.resume();
        return;
      }
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("limit", () => fail(new HttpError(413, "file_too_large", `the file exceeds the limit of ${config.MAX_BODY_BYTES} bytes`)));
      stream.on("close", () => {
        if (!failed) out.file = Buffer.concat(chunks);
      });
    });
    parser.on("field", (name, value) => {
      const list = out.fields.get(name) ?? [];
      list.push(value);
      out.fields.set(name, list);
    });
    parser.on("filesLimit", () => fail(new HttpError(400, "invalid_multipart", "send exactly one file")));
    parser.on("fieldsLimit", () => fail(new HttpError(400, "invalid_multipart", "too many form fields")));
    parser.on("error", malformed);
    parser.on("close", () => {
      if (!failed) resolve(out);
    });
    req.pipe(parser);
  });
}

const field = (m: Multipart, name: string): string | undefined => m.fields.get(name)?.[0];

export async function transcriptions(ctx: RequestContext): Promise<void> {
  if (mediaType(ctx.req) !== "multipart/form-data") {
    throw new HttpError(400, "invalid_content_type", "send multipart/form-data with a `file` part and a `model` field");
  }
  const form = await readMultipart(ctx);
  const model = resolveModel(ctx, "stt", field(form, "model"));
  ctx.usage.model = model.id;
  const format = (field(form, "response_format") ?? "json") as TranscriptionFormat;
  if (!TRANSCRIPTION_FORMATS.includes(format)) {
    throw new HttpError(400, "invalid_parameter", `response_format must be one of ${TRANSCRIPTION_FORMATS.join(", ")}`);
  }
  const granularities = [...(form.fields.get("timestamp_granularities[]") ?? []), ...(form.fields.get("timestamp_granularities") ?? [])];
  const unknownGranularity = granularities.find((g) => g !== "word" && g !== "segment");
  if (unknownGranularity) throw new HttpError(400, "invalid_parameter", "timestamp_granularities[] must be word and/or segment");
  const stream = field(form, "stream") === "true";
  if (!form.file) throw new HttpError(400, "missing_file", "the `file` part is missing");
  const language = field(form, "language") || undefined;

  const input = await prepareStt(ctx, inspectAudio(form.file));
  ctx.usage.audioSeconds = input.durationS;
  ctx.usage.features.push(`format:${format}`, ...granularities.map((g) => `timestamps:${g}`), ...(stream ? ["stream"] : []));
  const t0 = performance.now();
  const t = await ctx.speech.transcribe(input.samples, { language });
  ctx.metrics.realTimeFactor.observe({ feature: "stt" }, (performance.now() - t0) / 1000 / Math.max(input.durationS, 1e-3));
  ctx.metrics.audioSeconds.inc({ feature: "stt" }, input.durationS);

  if (stream) {
    // OpenAI's streamed transcription (server-sent events); this engine finishes the text at once.
    const events = [
      { type: "transcript.text.delta", delta: t.text },
      { type: "transcript.text.done", text: t.text },
    ];
    const body = events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join("");
    sendText(ctx.res, 200, body, "text/event-stream");
    return;
  }
  switch (format) {
    case "text":
      return sendText(ctx.res, 200, t.text, "text/plain; charset=utf-8");
    case "srt":
      return sendText(ctx.res, 200, toSrt(t), "application/x-subrip; charset=utf-8");
    case "vtt":
      return sendText(ctx.res, 200, toVtt(t), "text/vtt; charset=utf-8");
    case "verbose_json": {
      const words = granularities.includes("word");
      return sendJson(ctx.res, 200, toVerboseJson(t, words, !words || granularities.includes("segment")));
    }
    default:
      return sendJson(ctx.res, 200, { text: t.text, usage: { type: "duration", seconds: Math.ceil(input.durationS) } });
  }
}

export async function speech(ctx: RequestContext): Promise<void> {
  if (mediaType(ctx.req) !== "application/json") throw new HttpError(400, "invalid_content_type", "send a JSON body (application/json)");
  const body = await readJson(ctx.req, ctx.config.MAX_BODY_BYTES);
  const model = resolveModel(ctx, "tts", typeof body.model === "string" ? body.model : undefined);
  ctx.usage.model = model.id;
  const input = checkText(ctx, body.input, "input");
  ctx.usage.characters = input.length;
  const format = body.response_format ?? "mp3";
  if (typeof format !== "string" || !(SPEECH_FORMATS as readonly string[]).includes(format)) {
    throw new HttpError(400, "unsupported_response_format", `response_format must be one of ${SPEECH_FORMATS.join(", ")}`);
  }
  if (body.stream_format !== undefined && body.stream_format !== "audio") {
    throw new HttpError(400, "invalid_parameter", 'stream_format must be "audio"');
  }
  if (body.voice !== undefined && typeof body.voice !== "string") throw new HttpError(400, "invalid_parameter", "voice must be a string");
  const speed = checkSpeed(body.speed, 0.25, 4);
  ctx.usage.features.push(`format:${format}`);
  await streamSpeech(ctx, input, { voice: body.voice as string | undefined, speed }, { spec: speechSpec(format as SpeechFormat, model.sampleRate), headers: {} });
}
