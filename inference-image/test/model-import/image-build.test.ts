/**
 * The build of a model image that model-import writes (--image-from): the staged model on top of the pinned
 * inference image, at the path the workloads' init container copies from. Building and running it is
 * test/image/model-image.test.ts.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { MANIFEST_FILE } from "../../src/engines/manifest";
import { baseImageProblem, MODEL_IMAGE_DIR, writeModelImageBuild } from "../../src/model-import/image-build";
import { importModel } from "../../src/model-import/import";
import { writeWhisper } from "../engines/sherpa-models";

jest.setTimeout(120_000);

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "model-image-build-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

const BASE = `registry.internal/voice-selfhost/prod/inference-server@sha256:${"ab".repeat(32)}`;

test("writes <staged>.Dockerfile next to the staged model: FROM the pinned inference image, the model at the path the pods copy from, labelled with its manifest", async () => {
  const source = path.join(scratch, "release", "whisper-tiny");
  writeWhisper(source);
  fs.writeFileSync(path.join(source, "LICENSE"), "MIT (test text)\n");
  const out = path.join(scratch, "staged", "whisper-tiny");
  const { manifest } = await importModel({ source, engine: "sherpa-whisper", out, licence: "MIT", load: false });
  const manifestSha256 = createHash("sha256").update(fs.readFileSync(path.join(out, MANIFEST_FILE))).digest("hex");
  const dockerfile = writeModelImageBuild({ out, manifest, manifestSha256, baseImage: BASE });
  expect(dockerfile).toBe(path.join(scratch, "staged", "whisper-tiny.Dockerfile"));
  const instructions = fs
    .readFileSync(dockerfile, "utf8")
    .split("\n")
    .filter((l) => l && !l.startsWith("#"));
  expect(instructions).toEqual([
    `FROM ${BASE}`,
    `COPY whisper-tiny/ ${MODEL_IMAGE_DIR}/`,
    `LABEL io.voice-selfhost.model.engine="sherpa-whisper" io.voice-selfhost.model.name="${manifest.name}" io.voice-selfhost.model.manifest-sha256="${manifestSha256}"`,
  ]);
  expect(fs.readFileSync(dockerfile, "utf8")).toContain("models/stt:<tag>");
});

test("the base must be pinned by tag or digest, and not latest", () => {
  expect(baseImageProblem(BASE)).toBeUndefined();
  expect(baseImageProblem("registry.internal/voice-selfhost/prod/inference-server:0.2.0")).toBeUndefined();
  expect(baseImageProblem("localhost:5000/inference:0.2.0")).toBeUndefined();
  for (const bad of ["registry.internal/voice-selfhost/prod/inference-server", "localhost:5000/inference", "inference:latest", "Inference:0.2.0", ""]) {
    expect(baseImageProblem(bad)).toMatch(/^--image-from: expected the inference image pinned by tag or digest/);
  }
});
