/**
 * The build of a model image: a staged model (import.ts) on top of the inference image, at MODEL_IMAGE_DIR.
 * The inference pods run it as an init container that copies the model from its own filesystem into the
 * pod's models volume, with no network (the kubelet pulled the image, like every image, from the
 * environment's registry); the server then checks every file against the manifest before loading it.
 * The inference image is the base because it already holds a `cp` and runs as uid 1000, and its layers
 * are on the node already: pulling a model image fetches the model's layer only.
 */
import fs from "node:fs";
import path from "node:path";
import { MANIFEST_FILE, type ModelManifest } from "../engines/manifest";

/** Where a model image holds its model (the workloads' init container copies it from there). */
export const MODEL_IMAGE_DIR = "/opt/model";

/** An image reference pinned by tag or digest: `<repository>:<tag>`, `<repository>@sha256:...` or both. */
const PINNED_IMAGE = /^[a-z0-9][a-z0-9._\-/:]*[a-z0-9](?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

/** Why `baseImage` cannot be a model image's base (it must be pinned, and not "latest"), or undefined. */
export function baseImageProblem(baseImage: string): string | undefined {
  const pinned = PINNED_IMAGE.test(baseImage) && (/@sha256:/.test(baseImage) || /:[^/:@]+$/.test(baseImage)) && !/:latest(@|$)/.test(baseImage);
  return pinned ? undefined : `--image-from: expected the inference image pinned by tag or digest (<repository>:<tag> or <repository>@sha256:...), found "${baseImage}"`;
}

/**
 * Writes `<staged folder>.Dockerfile` next to the staged model: build it from the folder above
 * (`buildah bud -f <name>.Dockerfile -t <registry>/<prefix>/models/<stt|tts>:<tag> <parent>`), push it, and
 * put the tag and the digest the push prints in the environment file. Returns the Dockerfile's path.
 */
export function writeModelImageBuild(options: { out: string; manifest: ModelManifest; manifestSha256: string; baseImage: string }): string {
  const { out, manifest, baseImage } = options;
  const problem = baseImageProblem(baseImage);
  if (problem) throw new Error(problem);
  const folder = path.basename(path.resolve(out));
  const dockerfile = path.join(path.dirname(path.resolve(out)), `${folder}.Dockerfile`);
  const kind = manifest.engine === "sherpa-vits" || manifest.engine === "sherpa-kokoro" ? "tts" : "stt";
  const text = [
    `# The model image of ${manifest.name} (${manifest.engine}), written by model-import. The inference pods copy`,
    `# ${MODEL_IMAGE_DIR} into their models volume at start (workloads.models.source "registry") and check it`,
    `# against ${MANIFEST_FILE} before loading it. Build it from this folder and push it:`,
    `#   buildah bud -f ${folder}.Dockerfile -t <registry>/<repository prefix>/models/${kind}:<tag> .`,
    `FROM ${baseImage}`,
    `COPY ${folder}/ ${MODEL_IMAGE_DIR}/`,
    `LABEL io.voice-selfhost.model.engine="${manifest.engine}" io.voice-selfhost.model.name="${manifest.name}" io.voice-selfhost.model.manifest-sha256="${options.manifestSha256}"`,
    "",
  ].join("\n");
  fs.writeFileSync(dockerfile, text);
  return dockerfile;
}
