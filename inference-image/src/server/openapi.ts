/** `GET /openapi.json`: an OpenAPI 3.1 description of every route this server answers. */
import { RAW_ENCODINGS, SUPPORTED_INPUT } from "./audio";
import { ENCODINGS, OUTPUT_MEDIA_TYPES, SUPPORTED_OUTPUT } from "./codecs";
import { SPEECH_FORMATS } from "./openai";
import { knownModelNames, type ModelCatalog } from "./models";

const json = (schema: unknown) => ({ "application/json": { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errors = (family: "OpenAIError" | "DeepgramError", codes: number[]) =>
  Object.fromEntries(codes.map((c) => [String(c), { description: ERROR_TEXT[c], content: json(ref(family)) }]));
const ERROR_TEXT: Record<number, string> = {
  400: "Invalid input (bad parameter, malformed body, unknown model, truncated audio)",
  401: "Missing or invalid API key",
  403: "The license does not allow serving, or the key's team lacks the route's scope (code missing_scope_<scope>)",
  413: "Body or audio too large / too long",
  415: "Unsupported audio format",
  429: "Work queue full, or the key's team is at its concurrency or per-minute limit; see Retry-After",
  503: "License not yet confirmed, or shutting down",
  504: "Request timed out",
};
const q = (name: string, schema: unknown, description: string) => ({ name, in: "query", required: false, schema, description });
const bool = { type: "string", enum: ["true", "false"] };

export function openApiDocument(catalog: ModelCatalog): Record<string, unknown> {
  const sttModels = { type: "string", description: `One of: ${knownModelNames(catalog, "stt").join(", ")}` };
  const ttsModels = { type: "string", description: `One of: ${knownModelNames(catalog, "tts").join(", ")}` };
  const common = [401, 403, 429, 503, 504];
  return {
    openapi: "3.1.0",
    info: {
      title: "voice-selfhost inference server",
      version: "1.0.0",
      description:
        "OpenAI- and Deepgram-compatible speech-to-text and text-to-speech. OpenAI routes answer errors as " +
        "{error:{message,type,code}}, Deepgram routes (/v1/listen, /v1/speak) as {err_code,err_msg,request_id}. " +
        `Audio in: ${SUPPORTED_INPUT}. Audio out: ${SUPPORTED_OUTPUT}.`,
    },
    servers: [{ url: "/" }],
    security: [{ bearer: [] }, { token: [] }],
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "Authorization: Bearer <key>" },
        token: { type: "apiKey", in: "header", name: "Authorization", description: "Authorization: Token <key> (Deepgram style)" },
      },
      schemas: {
        OpenAIError: {
          type: "object",
          required: ["error"],
          properties: { error: { type: "object", required: ["message", "type", "code"], properties: { message: { type: "string" }, type: { type: "string" }, code: { type: "string" } } } },
        },
        DeepgramError: { type: "object", required: ["err_code", "err_msg", "request_id"], properties: { err_code: { type: "string" }, err_msg: { type: "string" }, request_id: { type: "string" } } },
        Word: { type: "object", properties: { word: { type: "string" }, start: { type: "number" }, end: { type: "number" }, confidence: { type: "number" }, punctuated_word: { type: "string" } } },
        Alternative: { type: "object", properties: { transcript: { type: "string" }, confidence: { type: "number" }, words: { type: "array", items: ref("Word") } } },
        DeepgramResponse: {
          type: "object",
          properties: {
            metadata: {
              type: "object",
              properties: {
                request_id: { type: "string" },
                sha256: { type: "string" },
                created: { type: "string", format: "date-time" },
                duration: { type: "number" },
                channels: { type: "integer" },
                models: { type: "array", items: { type: "string" } },
                model_info: { type: "object", additionalProperties: { type: "object", properties: { name: { type: "string" }, version: { type: "string" }, arch: { type: "string" } } } },
                warnings: { type: "array", items: { type: "object", properties: { parameter: { type: "string" }, type: { type: "string" }, message: { type: "string" } } } },
              },
            },
            results: { type: "object", properties: { channels: { type: "array", items: { type: "object", properties: { alternatives: { type: "array", items: ref("Alternative") } } } } } },
          },
        },
      },
    },
    paths: {
      "/v1/audio/transcriptions": {
        post: {
          summary: "Transcribe an audio file (OpenAI)",
          requestBody: {
            required: true,
            content: {
              "multipart/form-data": {
                schema: {
                  type: "object",
                  required: ["file"],
                  properties: {
                    file: { type: "string", contentMediaType: "application/octet-stream", description: "Audio in any supported format; the container is recognised by its bytes" },
                    model: sttModels,
                    language: { type: "string", description: "BCP-47 language, e.g. en" },
                    response_format: { type: "string", enum: ["json", "text", "verbose_json", "srt", "vtt"], default: "json" },
                    "timestamp_granularities[]": { type: "array", items: { type: "string", enum: ["word", "segment"] } },
                    stream: { type: "string", enum: ["true", "false"], description: "true: server-sent transcript.text.* events" },
                  },
                },
              },
            },
          },
          responses: {
            "200": {
              description: "Transcript in the requested format",
              content: { ...json({ type: "object", properties: { text: { type: "string" } } }), "text/plain": { schema: { type: "string" } }, "text/vtt": { schema: { type: "string" } }, "application/x-subrip": { schema: { type: "string" } } },
            },
            ...errors("OpenAIError", [400, 413, 415, ...common]),
          },
        },
      },
      "/v1/audio/speech": {
        post: {
          summary: "Synthesize speech (OpenAI), streamed as it is produced",
          requestBody: {
            required: true,
            content: json({
              type: "object",
              required: ["input"],
              properties: {
                model: ttsModels,
                input: { type: "string", maxLength: 100000 },
                voice: { type: "string", description: `A voice of this model (${(catalog.speech.tts.voices ?? []).join(", ")}) or an OpenAI voice name` },
                response_format: { type: "string", enum: [...SPEECH_FORMATS], default: "mp3", description: "opus: Ogg Opus; aac: ADTS; pcm: 24 kHz 16-bit mono little-endian" },
                speed: { type: "number", minimum: 0.25, maximum: 4, default: 1 },
              },
            }),
          },
          responses: { "200": { description: "Audio", content: Object.fromEntries(OUTPUT_MEDIA_TYPES.map((t) => [t, { schema: { type: "string" } }])) }, ...errors("OpenAIError", [400, 413, ...common]) },
        },
      },
      "/v1/listen": {
        post: {
          summary: "Transcribe pre-recorded audio (Deepgram); the body is the audio itself, never a URL",
          parameters: [
            q("model", sttModels, "Model name"),
            q("language", { type: "string" }, "BCP-47 language"),
            q("encoding", { type: "string", enum: [...RAW_ENCODINGS, "flac", "opus"] }, "Encoding of a headerless body; omit for containers (recognised by their bytes)"),
            q("sample_rate", { type: "integer", minimum: 8000, maximum: 48000 }, "Required with encoding"),
            q("channels", { type: "integer", minimum: 1, maximum: 8 }, "Raw audio channels (mixed to mono)"),
            ...["punctuate", "smart_format", "diarize"].map((n) => q(n, bool, "Accepted; not performed by the built-in model (reported in metadata.warnings)")),
          ],
          requestBody: { required: true, content: { "audio/*": { schema: { type: "string" } }, "application/octet-stream": { schema: { type: "string" } } } },
          responses: { "200": { description: "Transcript", content: json(ref("DeepgramResponse")) }, ...errors("DeepgramError", [400, 413, 415, ...common]) },
        },
        get: {
          summary: "Live transcription (Deepgram) over a WebSocket",
          description:
            "Upgrade to a WebSocket. Send binary audio frames (raw linear16/linear32/mulaw/alaw with encoding and sample_rate, or with no " +
            "encoding a WAV, WebM/Opus (MediaRecorder), Ogg, mp3 or FLAC stream, decoded as it arrives) and " +
            'text frames {"type":"KeepAlive"|"Finalize"|"CloseStream"}. Receives Results (is_final, speech_final, from_finalize), ' +
            "SpeechStarted (vad_events), UtteranceEnd (utterance_end_ms) and Metadata (at the end). Closes 1011 NET-0001 after " +
            "LIVE_IDLE_TIMEOUT_MS without audio or KeepAlive. Browsers may authenticate with Sec-WebSocket-Protocol: token, <key>.",
          parameters: [
            q("model", sttModels, "Model name"),
            q("language", { type: "string" }, "BCP-47 language"),
            q("encoding", { type: "string", enum: [...RAW_ENCODINGS, "opus", "flac"] }, "Raw audio encoding; omit (or opus/flac) to send a container stream"),
            q("sample_rate", { type: "integer", minimum: 8000, maximum: 48000 }, "Required with encoding"),
            q("channels", { type: "integer", minimum: 1, maximum: 8 }, "Raw audio channels"),
            q("interim_results", bool, "Send interim (is_final=false) results"),
            q("endpointing", { oneOf: [{ type: "integer", minimum: 0, maximum: 60000 }, { type: "boolean" }], default: 10 }, "Silence (ms) before speech_final; false: finals only on Finalize/CloseStream"),
            q("utterance_end_ms", { type: "integer", minimum: 1, maximum: 60000 }, "Send UtteranceEnd once this long passed after the last finalized word"),
            q("vad_events", bool, "Send SpeechStarted at speech onsets"),
          ],
          responses: { "101": { description: "Switching protocols" }, ...errors("DeepgramError", [400, ...common]) },
        },
      },
      "/v1/speak": {
        post: {
          summary: "Synthesize speech (Deepgram), streamed as it is produced",
          parameters: [
            q("model", ttsModels, "Model name (aura-* map to the default voice)"),
            q("encoding", { type: "string", enum: [...ENCODINGS], default: "linear16" }, "Output encoding"),
            q("container", { type: "string", enum: ["wav", "ogg", "none"] }, "wav (default) or none for linear16/mulaw/alaw; ogg for opus; none for mp3/flac/aac"),
            q("bit_rate", { type: "integer" }, "mp3: 32000 or 48000 (default); opus: 4000-650000 (12000); aac: 4000-192000 (48000)"),
            q("sample_rate", { type: "integer", minimum: 8000, maximum: 48000 }, "linear16: 8000-48000 (24000); mulaw/alaw: 8000 (default) or 16000; flac: 8000-48000 (48000); mp3/aac: 22050; opus: 48000"),
            q("speed", { type: "number", minimum: 0.5, maximum: 2 }, "Speaking rate"),
          ],
          requestBody: { required: true, content: json({ type: "object", required: ["text"], properties: { text: { type: "string" } } }) },
          responses: { "200": { description: "Audio", content: Object.fromEntries(OUTPUT_MEDIA_TYPES.map((t) => [t, { schema: { type: "string" } }])) }, ...errors("DeepgramError", [400, 413, ...common]) },
        },
        get: {
          summary: "Streaming speech (Deepgram) over a WebSocket",
          description:
            'Upgrade to a WebSocket. Send {"type":"Speak","text":"..."} (token by token is fine), {"type":"Flush"}, {"type":"Clear"}, ' +
            '{"type":"Close"}. Receives Metadata at open, binary audio (raw samples), Flushed {sequence_id} once the audio before a ' +
            "Flush is sent, Cleared {sequence_id} at once on Clear, and Warning {code, description} for ignored input. Synthesis " +
            "starts at each sentence end and at Flush.",
          parameters: [
            q("model", ttsModels, "Model name (aura-* voices map to the engine's voices)"),
            q("encoding", { type: "string", enum: ["linear16", "mulaw", "alaw"], default: "linear16" }, "Raw audio encoding"),
            q("sample_rate", { type: "integer", minimum: 8000, maximum: 48000 }, "Output rate (default 24000 for linear16, 8000 for mulaw/alaw)"),
            q("speed", { type: "number", minimum: 0.5, maximum: 2 }, "Speaking rate"),
          ],
          responses: { "101": { description: "Switching protocols" }, ...errors("DeepgramError", [400, ...common]) },
        },
      },
      "/v1/realtime": {
        get: {
          summary: "Realtime transcription (OpenAI) over a WebSocket",
          description:
            "Upgrade to a WebSocket (intent=transcription, or model=... then a transcription session.update). Send " +
            "transcription_session.update or session.update, input_audio_buffer.append (base64 mono audio in the session's input format: PCM16 at 24 kHz, " +
            "or G.711 mu-law/A-law at 8 kHz: input_audio_format pcm16|g711_ulaw|g711_alaw, audio.input.format audio/pcm|audio/pcmu|audio/pcma), .commit, .clear. " +
            "Receives session.created/updated (or transcription_session.*), input_audio_buffer.speech_started/speech_stopped/committed/" +
            "cleared, conversation.item.input_audio_transcription.delta and .completed, and error events. Server VAD ends turns " +
            "after silence_duration_ms; turn_detection null leaves turns to commit.",
          parameters: [q("intent", { type: "string", enum: ["transcription"] }, "Session kind"), q("model", { type: "string" }, "Accepted (the SDK sends one)")],
          responses: { "101": { description: "Switching protocols" }, ...errors("OpenAIError", [400, ...common]) },
        },
      },
      "/v1/models": { get: { summary: "Models and the client names that map to them", responses: { "200": { description: "OpenAI-style model list", content: json({ type: "object" }) }, ...errors("OpenAIError", [401]) } } },
      "/health/live": { get: { summary: "Liveness (no key)", security: [], responses: { "200": { description: "Alive", content: json({ type: "object" }) } } } },
      "/health/ready": { get: { summary: "Readiness: models loaded and license allows serving (no key)", security: [], responses: { "200": { description: "Ready", content: json({ type: "object" }) }, "503": { description: "Not ready", content: json({ type: "object" }) } } } },
      "/metrics": { get: { summary: "Prometheus metrics (no key)", security: [], responses: { "200": { description: "Prometheus text", content: { "text/plain": { schema: { type: "string" } } } } } } },
      "/openapi.json": { get: { summary: "This document (no key)", security: [], responses: { "200": { description: "OpenAPI 3.1", content: json({ type: "object" }) } } } },
    },
  };
}
