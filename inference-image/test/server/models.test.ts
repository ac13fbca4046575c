/** The model alias table: the names clients send by default reach the deployment's models, MODEL_ALIASES changes the table, unknown names are refused. */
import type { Speech } from "../../src/engines/types";
import { serverConfigFromEnv } from "../../src/server/config";
import { knownModelNames, resolveModel } from "../../src/server/models";
import { HttpError } from "../../src/shared/http";

const speech = { stt: { id: "pocketsphinx-en-us", kind: "stt" }, tts: { id: "flite-en-us", kind: "tts" } } as unknown as Speech;
const catalog = (env: NodeJS.ProcessEnv = {}) => ({ speech, config: serverConfigFromEnv(env) });

function refusal(f: () => unknown): HttpError {
  try {
    f();
  } catch (err) {
    return err as HttpError;
  }
  throw new Error("expected a refusal");
}

it("maps the transcription and speech names current SDKs and agent plugins send by default", () => {
  const c = catalog();
  for (const name of ["whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe", "gpt-4o-mini-transcribe-2025-12-15", "gpt-realtime-whisper", "gpt-live-transcribe", "nova-3", "nova-2-general", "flux-general-en", undefined, ""]) {
    expect(resolveModel(c, "stt", name).id).toBe("pocketsphinx-en-us");
  }
  for (const name of ["tts-1", "tts-1-hd", "gpt-4o-mini-tts", "aura-2-thalia-en", "flite-en-us"]) expect(resolveModel(c, "tts", name).id).toBe("flite-en-us");
});

it("refuses an unknown name, or a name of the other kind, with a 400 that lists the names served", () => {
  const c = catalog();
  for (const [kind, name] of [["stt", "whisper-large-v3"], ["stt", "tts-1"], ["tts", "gpt-4o-transcribe"], ["stt", "nova3"]] as const) {
    const err = refusal(() => resolveModel(c, kind, name));
    expect(err).toBeInstanceOf(HttpError);
    expect(err.status).toBe(400);
    expect(err.code).toBe("model_not_found");
    expect(err.message).toContain(`"${name}"`);
  }
  expect(refusal(() => resolveModel(c, "stt", "whisper-large-v3")).message).toMatch(/known models: pocketsphinx-en-us, whisper-1, gpt-4o-transcribe\*, .*gpt-realtime-whisper\*/);
});

it("MODEL_ALIASES adds names and families, changes a kind, and refuses a built-in name", () => {
  const c = catalog({ MODEL_ALIASES: " acme-asr=stt, acme-voice*=tts ,whisper-1=none" });
  expect(resolveModel(c, "stt", "acme-asr").id).toBe("pocketsphinx-en-us");
  expect(resolveModel(c, "tts", "acme-voice-2").id).toBe("flite-en-us");
  expect(() => resolveModel(c, "stt", "acme-asr-2")).toThrow(/unknown transcription model/);
  expect(() => resolveModel(c, "stt", "whisper-1")).toThrow(/unknown transcription model "whisper-1"/);
  expect(knownModelNames(c, "stt")).not.toContain("whisper-1");
  expect(knownModelNames(c, "tts")).toContain("acme-voice*");
  expect(resolveModel(catalog({ MODEL_ALIASES: "tts-1=stt" }), "stt", "tts-1").id).toBe("pocketsphinx-en-us");
});

it("refuses a malformed MODEL_ALIASES at start-up, naming the setting and the entry", () => {
  for (const bad of ["acme", "acme=asr", "=stt", "acme=stt=tts", "ac me=stt"]) {
    expect(() => serverConfigFromEnv({ MODEL_ALIASES: bad })).toThrow(/invalid server configuration: MODEL_ALIASES: entry ".*" must be name=stt, name=tts or name=none/);
  }
});
