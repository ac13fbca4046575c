/**
 * `GET /openapi.json`: an OpenAPI 3.1 description of every route, generated from the route table (paths, access,
 * answers) and the routes' parameter schemas (src/params/), whose JSON Schema zod itself writes (server/params.ts):
 * each parameter's type, bounds, default and description come from the one declaration the route parses with.
 */
import type { ZodType } from "zod/v4";
import { OUTPUT_MEDIA_TYPES } from "../audio/codecs/encoders";
import { SUPPORTED_INPUT } from "../audio/pcm";
import type { Speech } from "../engines/types";
import { modelFields } from "../params/models";
import type { Route } from "./context";
import type { ErrorFamily } from "./errors";
import { knownModelNames } from "./models";
import { jsonSchemaOf } from "./params";

type Json = Record<string, unknown>;

const SUPPORTED_OUTPUT =
  "OpenAI response_format mp3 (default), opus (Ogg), aac (ADTS), flac, wav, pcm (24 kHz s16le); Deepgram encoding " +
  "linear16, mulaw, alaw (container wav or none), mp3, opus (ogg), flac, aac with Deepgram's sample_rate/bit_rate " +
  "combinations; streamed as synthesized";

/** What speech routes answer: audio in one of these media types. */
export const SPEECH_AUDIO: Json = Object.fromEntries(OUTPUT_MEDIA_TYPES.map((t) => [t, { type: "string" }]));
/** What transcription answers: JSON, or text in the requested format. */
export const TRANSCRIPT_TYPES: Json = {
  "application/json": { type: "object", properties: { text: { type: "string" } } },
  "text/plain": { type: "string" },
  "text/vtt": { type: "string" },
  "application/x-subrip": { type: "string" },
  "text/event-stream": { type: "string" },
};

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

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errorName = (family: ErrorFamily) => (family === "deepgram" ? "DeepgramError" : "OpenAIError");

/** A field as the document shows it; a model field lists the names this deployment takes. */
function fieldSchema(field: ZodType, speech: Speech): Json {
  const schema = jsonSchemaOf(field);
  // A registry answers {} for a field derived from another (a .meta() copy): only a kind says it names a model.
  const kind = modelFields.get(field)?.kind;
  if (kind) schema.description = `${schema.description ?? ""} One of: ${knownModelNames(speech, kind).join(", ")}`.trim();
  return schema;
}

/** Whether a request must carry the field (no default, not optional). */
const required = (field: ZodType) => !field.safeParse(undefined).success;

const shapeOf = (schema: ZodType) => (schema as unknown as { shape: Record<string, ZodType> }).shape;

function parameters(query: ZodType | undefined, speech: Speech): Json[] {
  if (!query) return [];
  return Object.entries(shapeOf(query)).map(([name, field]) => {
    const { description, ...schema } = fieldSchema(field, speech);
    return { name, in: "query", required: required(field), schema, ...(description ? { description } : {}) };
  });
}

function objectSchema(schema: ZodType, speech: Speech): Json {
  const shape = shapeOf(schema);
  return {
    type: "object",
    required: Object.keys(shape).filter((name) => required(shape[name])),
    properties: Object.fromEntries(Object.entries(shape).map(([name, field]) => [name, fieldSchema(field, speech)])),
  };
}

function operation(route: Route, speech: Speech, messages: Json): Json {
  const { doc } = route;
  const statuses = [...(doc.errors ?? []), ...(route.auth ? [401] : []), ...(route.feature ? [403, 429, 503] : []), ...(route.feature && route.kind === "http" ? [504] : [])];
  const errors = Object.fromEntries(
    [...new Set(statuses)].sort().map((c) => [String(c), { description: ERROR_TEXT[c], content: { "application/json": { schema: ref(errorName(route.family)) } } }]),
  );
  const ok = { description: doc.ok.description, ...(doc.ok.content ? { content: Object.fromEntries(Object.entries(doc.ok.content).map(([t, schema]) => [t, { schema }])) } : {}) };
  let requestBody: Json | undefined;
  if (route.kind === "http" && route.body) {
    const type = route.body.type === "json" ? "application/json" : "multipart/form-data";
    requestBody = { required: true, content: { [type]: { schema: objectSchema(route.body.schema, speech) } } };
  } else if (doc.rawBody) {
    requestBody = { required: true, content: Object.fromEntries(doc.rawBody.map((t) => [t, { schema: { type: "string" } }])) };
  }
  if (route.kind === "socket" && doc.messages) messages[messageName(route.path)] = jsonSchemaOf(doc.messages);
  return {
    summary: doc.summary,
    ...(doc.description ? { description: doc.description } : {}),
    ...(doc.open ? { security: [] } : {}),
    parameters: parameters(route.query, speech),
    ...(requestBody ? { requestBody } : {}),
    ...(route.kind === "socket" && doc.messages ? { "x-client-messages": ref(messageName(route.path)) } : {}),
    responses: { [route.kind === "socket" ? "101" : "200"]: ok, ...errors },
  };
}

/** The components name of a socket route's client messages: /v1/speak -> SpeakClientMessage. */
const messageName = (path: string) => `${path.split("/").pop()!.replace(/^./, (c) => c.toUpperCase())}ClientMessage`;

export function openApiDocument(speech: Speech, routes: readonly Route[]): Json {
  const messages: Json = {};
  const paths: Record<string, Json> = {};
  for (const route of routes) (paths[route.path] ??= {})[route.method.toLowerCase()] = operation(route, speech, messages);
  return {
    openapi: "3.1.0",
    info: {
      title: "voice-selfhost inference server",
      version: "1.0.0",
      description:
        "OpenAI- and Deepgram-compatible speech-to-text and text-to-speech. OpenAI routes answer errors as " +
        "{error:{message,type,code}}, Deepgram routes (/v1/listen, /v1/speak) as {err_code,err_msg,request_id}. " +
        "WebSocket routes list what their clients send under x-client-messages. " +
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
        ...messages,
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
    paths,
  };
}
