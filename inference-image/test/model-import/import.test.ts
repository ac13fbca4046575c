/**
 * The air-gapped model import: a release-style archive (or folder) in, a staged directory out with the
 * engine's files, their licence texts and a manifest the server then accepts; what must not be
 * imported is refused with the reason, and nothing half-staged is left behind.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createSpeech, parseEngineConfig } from "../../src/engines";
import { MANIFEST_FILE, MANIFEST_FORMAT, readManifest } from "../../src/engines/manifest";
import { ImportError, importModel } from "../../src/model-import/import";
import { writeKokoro, writeParaformer, writeWhisper } from "../engines/sherpa-models";

jest.setTimeout(120_000);

let scratch: string;
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "model-import-"));
});
afterAll(() => {
  fs.rmSync(scratch, { recursive: true, force: true });
});

const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");

/** A model laid out as sherpa-onnx's release archives are: one top folder, the model, extras, a licence. */
function releaseArchive(name: string, write: (dir: string) => string): string {
  const root = path.join(scratch, "release", name);
  write(root);
  fs.writeFileSync(path.join(root, "LICENSE"), "Apache License 2.0 (test text)\n");
  fs.writeFileSync(path.join(root, "README.md"), "a test model\n");
  fs.mkdirSync(path.join(root, "test_wavs"));
  fs.writeFileSync(path.join(root, "test_wavs", "0.wav"), Buffer.alloc(64));
  fs.writeFileSync(path.join(root, "model.onnx.bak"), "an export's leftover the engine never loads");
  const archive = path.join(scratch, `${name}.tar.bz2`);
  execFileSync("tar", ["-cjf", archive, "-C", path.dirname(root), name]);
  return archive;
}

test("a .tar.bz2 release archive is staged with only what the engine loads, its licence texts and a manifest; sherpa-onnx loads the staged copy", async () => {
  const archive = releaseArchive("sherpa-onnx-paraformer-tiny", writeParaformer);
  const out = path.join(scratch, "staged", "paraformer");
  const { manifest } = await importModel({ source: archive, engine: "sherpa-paraformer", out, licence: "Apache-2.0", languages: ["zh", "en"] });
  expect(fs.readdirSync(out).sort()).toEqual(["LICENSE", "README.md", MANIFEST_FILE, "model.int8.onnx", "tokens.txt"]);
  expect(readManifest(path.join(out, MANIFEST_FILE))).toEqual(manifest);
  expect(manifest).toMatchObject({
    format: MANIFEST_FORMAT,
    engine: "sherpa-paraformer",
    name: "sherpa-onnx-paraformer-tiny",
    sampleRate: 16000,
    languages: ["zh", "en"],
    licence: { name: "Apache-2.0", file: "LICENSE" },
    source: { name: "sherpa-onnx-paraformer-tiny.tar.bz2", sha256: sha256(archive) },
  });
  expect(manifest.files).toEqual(
    ["LICENSE", "README.md", "model.int8.onnx", "tokens.txt"].map((f) => ({ path: f, bytes: fs.statSync(path.join(out, f)).size, sha256: sha256(path.join(out, f)) })),
  );
  // What the server does with it: verify, then load.
  const speech = await createSpeech(parseEngineConfig({ stt: { engine: "sherpa-paraformer", modelDir: out }, tts: { engine: "flite" }, workers: 1 }));
  try {
    expect(speech.stt).toMatchObject({ engine: "sherpa-paraformer", id: "sherpa-paraformer:paraformer" });
  } finally {
    await speech.close();
  }
});

test("a folder is imported too; Whisper's languages and the TTS sample rate come from the model's metadata", async () => {
  const whisper = await importModel({ source: writeWhisper(path.join(scratch, "folders", "whisper")), engine: "sherpa-whisper", out: path.join(scratch, "staged", "whisper"), licence: "MIT", load: false });
  expect(whisper.manifest).toMatchObject({ languages: ["en", "de"], sampleRate: 16000, source: { name: "whisper" } });
  expect(whisper.manifest.source.sha256).toBeUndefined();
  const kokoro = await importModel({ source: writeKokoro(path.join(scratch, "folders", "kokoro")), engine: "sherpa-kokoro", out: path.join(scratch, "staged", "kokoro"), licence: "Apache-2.0", languages: ["en"], load: false });
  expect(kokoro.manifest.sampleRate).toBe(24000);
  // A folder the engine loads is listed file by file.
  expect(kokoro.manifest.files.map((f) => f.path)).toEqual(expect.arrayContaining(["espeak-ng-data/phontab", "espeak-ng-data/en_dict", "model.onnx", "voices.bin", "tokens.txt"]));
});

describe("what is refused", () => {
  const attempt = (options: Partial<Parameters<typeof importModel>[0]>) =>
    importModel({ source: "", engine: "sherpa-paraformer", out: path.join(scratch, "refused", String(Math.random())), licence: "MIT", languages: ["en"], ...options });

  test("a model sherpa-onnx would reject, naming the file; nothing is left staged", async () => {
    const source = writeParaformer(path.join(scratch, "bad"), { dropMetadata: "lfr_window_size" });
    const out = path.join(scratch, "refused", "bad");
    await expect(attempt({ source, out })).rejects.toThrow(/source=.*bad: not a sherpa-paraformer model sherpa-onnx can load: model\.int8\.onnx: metadata "lfr_window_size" missing/);
    expect(fs.existsSync(out)).toBe(false);
  });

  test("the wrong engine for the files, an unknown engine, a busy output folder, no language to record", async () => {
    const source = writeParaformer(path.join(scratch, "para-ok"));
    await expect(attempt({ source, engine: "sherpa-whisper" })).rejects.toThrow(/the sherpa-whisper model directory is missing <name>-encoder\[\.int8\]\.onnx/);
    await expect(attempt({ source, engine: "vosk" as never })).rejects.toThrow(/--engine vosk: expected one of sherpa-whisper, sherpa-transducer, sherpa-paraformer, sherpa-vits, sherpa-kokoro/);
    const busy = path.join(scratch, "refused", "busy");
    fs.mkdirSync(busy, { recursive: true });
    fs.writeFileSync(path.join(busy, "keep"), "");
    await expect(attempt({ source, out: busy })).rejects.toThrow(/--out .*busy: not empty/);
    expect(fs.existsSync(path.join(busy, "keep"))).toBe(true);
    await expect(attempt({ source, languages: undefined })).rejects.toThrow(ImportError);
    await expect(attempt({ source, languages: undefined })).rejects.toThrow(/--languages is required for sherpa-paraformer/);
  });

  test("an archive that holds a symbolic link, and a file that is not an archive", async () => {
    const root = path.join(scratch, "linked", "model");
    writeParaformer(root);
    fs.symlinkSync("/etc/hostname", path.join(root, "README"));
    const archive = path.join(scratch, "linked.tar.gz");
    execFileSync("tar", ["-czf", archive, "-C", path.dirname(root), "model"]);
    await expect(attempt({ source: archive })).rejects.toThrow(/README in the model is a symbolic link/);
    const notArchive = path.join(scratch, "not-an-archive.tar.bz2");
    fs.writeFileSync(notArchive, "plain text");
    await expect(attempt({ source: notArchive })).rejects.toThrow(/not-an-archive\.tar\.bz2: tar could not unpack it/);
  });
});
