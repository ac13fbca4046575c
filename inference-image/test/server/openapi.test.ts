/**
 * The OpenAPI document against the routes: every parameter it lists (query, JSON body, form field) is taken by its
 * route at every documented value (each enum value, both bounds, the default), and refused just past each bound,
 * outside each enum and when a required one is missing, with a 400 that names it. Accepted means the request got past
 * every parameter check into its handler, where a failure of another kind is provoked on purpose (an empty audio
 * body, a text over MAX_TEXT_CHARS) so no engine work runs; sockets open (101).
 */
import { KEY, type Started, startServer, upgradeStatus } from "./helpers";

jest.setTimeout(300_000);

let s: Started;
let doc: { paths: Record<string, Record<string, Operation>> };

interface Schema {
  description?: string;
  type?: string;
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  minimum?: number;
  maximum?: number;
  default?: unknown;
  not?: unknown;
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
}
interface Parameter {
  name: string;
  in: string;
  required: boolean;
  schema: Schema;
  description?: string;
}
interface Operation {
  parameters: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, unknown>;
}

beforeAll(async () => {
  // A one-character text limit: a speech request whose parameters all pass stops in its handler, before synthesis.
  s = await startServer({ config: { MAX_TEXT_CHARS: 1 } });
  doc = (await (await fetch(`${s.base}/openapi.json`)).json()) as typeof doc;
});

afterAll(async () => {
  await s?.stop();
});

/** Every value the schema documents as accepted (model names as its description lists them; `nova*`: a name of that family). */
function accepted(schema: Schema, name: string): unknown[] {
  const models = /One of: (.*)$/.exec(schema.description ?? "")?.[1];
  if (models) return models.split(", ").map((m) => m.replace(/\*$/, "-3-general"));
  if (schema.anyOf) return schema.anyOf.flatMap((branch) => accepted(branch, name));
  if ("const" in schema) return [schema.const];
  if (schema.enum) return schema.enum;
  if (schema.type === "boolean") return [true, false];
  if (schema.type === "integer" || schema.type === "number") return [schema.minimum ?? 0, schema.maximum ?? 1, ...(schema.default === undefined ? [] : [schema.default])];
  if (schema.type === "array") return [accepted(schema.items ?? {}, name)];
  // Text longer than the one-character limit, so a speech request stops in its handler.
  if (schema.type === "string") return [name === "language" ? "en" : "hello"];
  return [];
}

/** Values just outside what the schema documents. */
function refused(schema: Schema): unknown[] {
  if (schema.not !== undefined) return ["anything"];
  if (schema.anyOf) {
    const numeric = schema.anyOf.find((b) => b.type === "integer" || b.type === "number");
    return numeric ? refused(numeric).filter((v) => typeof v === "number") : ["not-a-valid-value"];
  }
  if (schema.enum || "const" in schema) return ["not-a-valid-value"];
  if (schema.type === "boolean") return ["maybe"];
  if (schema.type === "integer" || schema.type === "number") {
    const step = schema.type === "integer" ? 1 : 0.01;
    return [...(schema.minimum === undefined ? [] : [schema.minimum - step]), ...(schema.maximum === undefined ? [] : [schema.maximum + step])];
  }
  if (schema.type === "array" && schema.items?.enum) return [["not-a-valid-value"]];
  return [];
}

/**
 * Parameters a value needs beside it, as the document says in words: raw audio needs its rate; bit_rate's range is
 * opus's, and so is the ogg container.
 */
function companions(path: string, name: string, value: unknown): Record<string, string> {
  if (path === "/v1/listen" && name === "encoding" && ["linear16", "linear32", "mulaw", "alaw"].includes(String(value))) return { sample_rate: "16000" };
  if (path === "/v1/speak" && (name === "bit_rate" || (name === "container" && value === "ogg"))) return { encoding: "opus" };
  return {};
}

const auth = { authorization: `Token ${KEY}` };

/**
 * Until the server holds no live session: a session stops counting once its engine stream is free, so the next
 * upgrade finds a live slot (the test server has four) and a 429 would be a real refusal.
 */
async function noLiveSessions(): Promise<void> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    if (/^inference_live_sessions 0$/m.test(await (await fetch(`${s.base}/metrics`)).text())) return;
  }
  throw new Error("the live sessions did not end within 30 s");
}

/** Send one request with `query` (and the body a parameter check needs to pass): its status and error body. */
async function send(path: string, method: string, query: Record<string, string>, body?: { type: string; value: Record<string, unknown> }): Promise<{ status: number; code?: string; message?: string }> {
  const qs = new URLSearchParams(query).toString();
  const url = `${s.base}${path}${qs ? `?${qs}` : ""}`;
  if (method === "get") {
    await noLiveSessions();
    const r = await upgradeStatus(s.address.port, `${path}${qs ? `?${qs}` : ""}`, auth);
    if (r.status === 101) return { status: 101 };
    const e = JSON.parse(r.body) as { error?: { code: string; message: string }; err_code?: string; err_msg?: string };
    return { status: r.status, code: (e.error?.code ?? e.err_code)?.toLowerCase(), message: e.error?.message ?? e.err_msg };
  }
  let init: RequestInit = { method: "POST", headers: auth };
  if (path === "/v1/listen") init = { ...init, body: Buffer.alloc(0), headers: { ...auth, "content-type": "application/octet-stream" } };
  else if (body?.type === "multipart/form-data") {
    const form = new FormData();
    for (const [k, v] of Object.entries(body.value)) {
      if (k === "file") form.append("file", new Blob([]), "empty.wav");
      else for (const item of Array.isArray(v) ? v : [v]) if (item !== undefined) form.append(k, String(item));
    }
    init = { ...init, body: form };
  } else if (body) init = { ...init, body: JSON.stringify(body.value), headers: { ...auth, "content-type": "application/json" } };
  const res = await fetch(url, init);
  const e = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string }; err_code?: string; err_msg?: string };
  return { status: res.status, code: (e.error?.code ?? e.err_code)?.toLowerCase(), message: e.error?.message ?? e.err_msg };
}

/** What a request whose parameters all passed answers, per route: its handler's provoked failure, or the upgrade. */
const PASSED: Record<string, { status: number; code?: string }> = {
  "post /v1/listen": { status: 400, code: "invalid_audio" },
  "post /v1/audio/transcriptions": { status: 400, code: "invalid_audio" },
  "post /v1/audio/speech": { status: 400, code: "input_too_long" },
  "post /v1/speak": { status: 400, code: "input_too_long" },
  "get /v1/listen": { status: 101 },
  "get /v1/speak": { status: 101 },
  "get /v1/realtime": { status: 101 },
};

/** A body every check passes: each required property at its first documented value. */
function baseBody(schema: Schema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of schema.required ?? []) out[name] = accepted(schema.properties![name], name)[0];
  return out;
}

test("every documented parameter of every route is taken at each documented value and refused, by name, past its bounds", async () => {
  const checked: string[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const key = `${method} ${path}`;
      const bodyType = op.requestBody && Object.keys(op.requestBody.content).find((t) => t === "application/json" || t === "multipart/form-data");
      const bodySchema = bodyType ? op.requestBody!.content[bodyType].schema : undefined;
      const fields: [string, Schema, "query" | "body"][] = [
        ...op.parameters.map((p): [string, Schema, "query"] => [p.name, { ...p.schema, description: p.description }, "query"]),
        ...Object.entries(bodySchema?.properties ?? {}).map(([n, sch]): [string, Schema, "body"] => [n, sch, "body"]),
      ];
      if (fields.length === 0) continue;
      expect(PASSED[key]).toBeDefined();
      const base = bodySchema ? baseBody(bodySchema) : {};
      const request = (name: string, value: unknown, where: "query" | "body") => {
        const query = where === "query" ? { ...companions(path, name, value), [name]: String(value) } : {};
        const body = bodyType ? { type: bodyType, value: where === "body" ? { ...base, [name]: value } : base } : undefined;
        return send(path, method, query, body);
      };
      for (const [name, schema, where] of fields) {
        if (name === "file") continue;
        for (const value of accepted(schema, name)) {
          const r = await request(name, value, where);
          expect({ key, name, value, ...r }).toMatchObject({ key, name, value, ...PASSED[key] });
        }
        for (const value of refused(schema)) {
          const r = await request(name, value, where);
          expect({ key, name, value, status: r.status }).toEqual({ key, name, value, status: 400 });
          expect(r.message).toContain(name);
        }
        checked.push(`${key} ${name}`);
      }
      for (const name of bodySchema?.required ?? []) {
        if (name === "file") continue;
        const { [name]: _, ...rest } = base;
        const r = await send(path, method, {}, { type: bodyType!, value: rest });
        expect({ key, name, status: r.status }).toEqual({ key, name, status: 400 });
        expect(r.message).toContain(name);
      }
    }
  }
  // Each route family's parameters were seen: a document that lost them would otherwise pass with nothing checked.
  expect(checked).toEqual(
    expect.arrayContaining(["get /v1/listen endpointing", "post /v1/listen encoding", "post /v1/speak bit_rate", "get /v1/speak encoding", "post /v1/audio/speech speed", "post /v1/audio/transcriptions response_format", "get /v1/realtime intent"]),
  );
  // endpointing is a live option: the upload route neither documents nor takes it as one.
  expect(checked).not.toContain("post /v1/listen endpointing");
});
