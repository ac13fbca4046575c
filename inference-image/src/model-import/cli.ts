#!/usr/bin/env node
/**
 * `model-import <archive|folder> --engine <sherpa-engine> --out <dir> --licence <name> [--languages a,b]
 * [--language <code>] [--no-load]`: stage a model for the model bucket or an image layer (see import.ts).
 */
import { parseArgs } from "node:util";
import { ImportError, importModel, SHERPA_ENGINES } from "./import";
import type { SherpaEngine } from "../engines/model-files";

const USAGE = `usage: model-import <archive|folder> --engine <${SHERPA_ENGINES.join("|")}> --out <dir> --licence <name>
                    [--languages <code,...>] [--language <code>] [--no-load]
  archive|folder  a sherpa-onnx model release archive (.tar.bz2, .tar.gz, ...) or its unpacked folder
  --licence       the licence the weights come under, as their publisher states it (e.g. MIT, Apache-2.0, CC-BY-4.0)
  --languages     languages the model serves (default: from its metadata where it has them)
  --language      Whisper: the STT_LANGUAGE the server will use (default en; empty string to detect)
  --no-load       skip loading the staged model with sherpa-onnx (the files are still checked)`;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      engine: { type: "string" },
      out: { type: "string" },
      licence: { type: "string" },
      license: { type: "string" },
      languages: { type: "string" },
      language: { type: "string" },
      "no-load": { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const licence = values.licence ?? values.license;
  if (positionals.length !== 1 || !values.engine || !values.out || !licence) throw new ImportError(`expected one archive or folder, --engine, --out and --licence\n${USAGE}`);
  const { manifest, out } = await importModel({
    source: positionals[0],
    engine: values.engine as SherpaEngine,
    out: values.out,
    licence,
    languages: values.languages?.split(",").map((l) => l.trim()).filter(Boolean),
    language: values.language,
    load: !values["no-load"],
  });
  const bytes = manifest.files.reduce((n, f) => n + f.bytes, 0);
  const kind = manifest.engine === "sherpa-vits" || manifest.engine === "sherpa-kokoro" ? "tts" : "stt";
  console.log(`staged ${manifest.engine} model "${manifest.name}" in ${out}: ${manifest.files.length} files, ${(bytes / 1e6).toFixed(1)} MB, ${manifest.sampleRate} Hz, languages ${manifest.languages.join(",")}, licence ${manifest.licence.name}
next, either
  upload it:  aws s3 sync ${out}/ s3://<model bucket>/models/${manifest.name}/ --delete
              and set workloads.models: { "source": "s3", "${kind}": { "engine": "${manifest.engine}", "location": "models/${manifest.name}" } }
  or bake it: a Dockerfile "FROM <inference image>" + "COPY ${manifest.name}/ /opt/models/${manifest.name}/" (build context: ${out}/..)
              and set workloads.models: { "source": "image", "${kind}": { "engine": "${manifest.engine}", "location": "/opt/models/${manifest.name}" } }`);
  return 0;
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`model-import: ${err.message}`);
    process.exit(err instanceof ImportError || err instanceof TypeError ? 2 : 1);
  },
);
