#!/usr/bin/env node
/**
 * `model-import <archive|folder> --engine <sherpa-engine> --out <dir> --licence <name> [--languages a,b]
 * [--language <code>] [--no-load] [--image-from <inference image>]`: stage a model (see import.ts) and,
 * with --image-from, write the build of its model image (image-build.ts).
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { MANIFEST_FILE } from "../engines/manifest";
import { baseImageProblem, writeModelImageBuild } from "./image-build";
import { ImportError, importModel, SHERPA_ENGINES } from "./import";
import type { SherpaEngine } from "../engines/model-files";

const USAGE = `usage: model-import <archive|folder> --engine <${SHERPA_ENGINES.join("|")}> --out <dir> --licence <name>
                    [--languages <code,...>] [--language <code>] [--no-load] [--image-from <inference image>]
  archive|folder  a sherpa-onnx model release archive (.tar.bz2, .tar.gz, ...) or its unpacked folder
  --licence       the licence the weights come under, as their publisher states it (e.g. MIT, Apache-2.0, CC-BY-4.0)
  --languages     languages the model serves (default: from its metadata where it has them)
  --language      Whisper: the STT_LANGUAGE the server will use (default en; empty string to detect)
  --no-load       skip loading the staged model with sherpa-onnx (the files are still checked)
  --image-from    the inference image, pinned (<repository>:<tag> or @sha256:...): also write <out>.Dockerfile, the
                  build of the model's image, which the pods copy the model from (workloads.models.source "registry")`;

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
      "image-from": { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const licence = values.licence ?? values.license;
  if (positionals.length !== 1 || !values.engine || !values.out || !licence) throw new ImportError(`expected one archive or folder, --engine, --out and --licence\n${USAGE}`);
  const baseProblem = values["image-from"] === undefined ? undefined : baseImageProblem(values["image-from"]);
  if (baseProblem) throw new ImportError(baseProblem);
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
  console.log(`staged ${manifest.engine} model "${manifest.name}" in ${out}: ${manifest.files.length} files, ${(bytes / 1e6).toFixed(1)} MB, ${manifest.sampleRate} Hz, languages ${manifest.languages.join(",")}, licence ${manifest.licence.name}`);
  if (values["image-from"]) {
    const manifestSha256 = createHash("sha256").update(readFileSync(path.join(out, MANIFEST_FILE))).digest("hex");
    const dockerfile = writeModelImageBuild({ out, manifest, manifestSha256, baseImage: values["image-from"] });
    console.log(`wrote the model image's build: ${dockerfile}
next: archive the staged folder in the model bucket (aws s3 sync ${out}/ s3://<model bucket>/models/${manifest.name}/), then
  build and push:  buildah bud -f ${path.basename(dockerfile)} -t <registry>/<repository prefix>/models/${kind}:<tag> ${path.dirname(dockerfile)}
                   buildah push --digestfile ${manifest.name}.digest <registry>/<repository prefix>/models/${kind}:<tag>
  and set workloads.models: { "source": "registry", "${kind}": { "engine": "${manifest.engine}", "image": { "tag": "<tag>", "digest": "<the pushed digest>" } } }`);
  } else {
    console.log(`next, either
  an image of its own: run again with --image-from <inference image> (workloads.models.source "registry")
  or bake it:          a Dockerfile "FROM <inference image>" + "COPY ${manifest.name}/ /opt/models/${manifest.name}/" (build context: ${out}/..)
                       and set workloads.models: { "source": "image", "${kind}": { "engine": "${manifest.engine}", "location": "/opt/models/${manifest.name}" } }`);
  }
  return 0;
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`model-import: ${err.message}`);
    process.exit(err instanceof ImportError || err instanceof TypeError ? 2 : 1);
  },
);
