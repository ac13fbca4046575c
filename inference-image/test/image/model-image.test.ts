/**
 * A model image, end to end as the pods use it (workloads.models.source "registry"): model-import stages a
 * model and writes its image build; buildah builds it on the inference image; its init container's copy
 * (the workloads' MODEL_IMAGE command, which test/workloads/contract.test.ts holds to this one) runs with no network at all, as uid 1000 with a read-only root, into
 * a models volume; and the server image loads the copy, checked against its manifest. The model is the tiny
 * Whisper the engine tests write (plumbing, not recognition).
 */
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { MANIFEST_FILE } from "../../src/engines/manifest";
import {
  MODEL_IMAGE_DIR,
  writeModelImageBuild,
} from "../../src/model-import/image-build";
import { importModel } from "../../src/model-import/import";
import { writeWhisper } from "../engines/sherpa-models";
import { KEY } from "../server/helpers";
import {
  describeWithImage,
  IMAGE,
  podman,
  publishedPort,
  removeDir,
  RUN_LIMITS,
  sharedDir,
  waitFor,
} from "./podman";

jest.setTimeout(300_000);

const suffix = `${process.pid}-${Date.now()}`;
const MODEL_IMAGE_TAG = `localhost/voice-selfhost/model-test:${suffix}`;
const sha256 = (file: string) =>
  createHash("sha256").update(fs.readFileSync(file)).digest("hex");

describeWithImage("a model image", ["podman", "buildah"], () => {
  const dirs: string[] = [];
  const server = `vs-model-server-${suffix}`;
  let models = "";
  let staged = "";

  beforeAll(async () => {
    const work = sharedDir("model-image-");
    dirs.push(work);
    const source = path.join(work, "release", "whisper-tiny");
    writeWhisper(source);
    fs.writeFileSync(path.join(source, "LICENSE"), "MIT (test text)\n");
    staged = path.join(work, "staged", "whisper-tiny");
    const { manifest } = await importModel({
      source,
      engine: "sherpa-whisper",
      out: staged,
      licence: "MIT",
    });
    const dockerfile = writeModelImageBuild({
      out: staged,
      manifest,
      manifestSha256: sha256(path.join(staged, MANIFEST_FILE)),
      baseImage: IMAGE,
    });
    const build = spawnSync(
      "buildah",
      [
        "bud",
        "--isolation",
        "chroot",
        "-f",
        dockerfile,
        "-t",
        MODEL_IMAGE_TAG,
        path.dirname(staged),
      ],
      { encoding: "utf8", timeout: 240_000 }
    );
    if (build.status !== 0)
      throw new Error(`buildah bud failed: ${build.stderr}`);
    // The pod's emptyDir: writable by the init container's uid 1000.
    models = sharedDir("model-volume-");
    fs.chmodSync(models, 0o777);
    dirs.push(models);
  });

  afterAll(() => {
    podman(["rm", "-f", "-t", "0", server], { allowFail: true });
    podman(["rmi", "-f", MODEL_IMAGE_TAG], { allowFail: true });
    dirs.forEach(removeDir);
  });

  it("copies its model into the models volume with no network, as uid 1000 on a read-only root: every file as staged", () => {
    const copy = ["cp", "-R", `${MODEL_IMAGE_DIR}/.`, "/models/stt"];
    podman([
      "run",
      "--rm",
      ...RUN_LIMITS,
      "--network",
      "none",
      "--user",
      "1000:1000",
      "--read-only",
      "-v",
      `${models}:/models`,
      "--entrypoint",
      copy[0],
      MODEL_IMAGE_TAG,
      ...copy.slice(1),
    ]);
    const names = fs.readdirSync(path.join(models, "stt")).sort();
    expect(names).toEqual(fs.readdirSync(staged).sort());
    for (const name of names)
      expect(sha256(path.join(models, "stt", name))).toBe(
        sha256(path.join(staged, name))
      );
  });

  it("the server image loads the copy, checked against its manifest", async () => {
    podman([
      "run",
      "-d",
      "--name",
      server,
      ...RUN_LIMITS,
      "--read-only",
      "--read-only-tmpfs=false",
      "--tmpfs",
      "/tmp:rw,mode=1777",
      "-v",
      `${models}:/models:ro`,
      "-p",
      "127.0.0.1::8080",
      "-e",
      `API_KEYS=${KEY}`,
      "-e",
      "WORKERS=1",
      "-e",
      "STT_ENGINE=sherpa-whisper",
      "-e",
      "STT_MODEL_DIR=/models/stt",
      IMAGE,
    ]);
    const base = `http://127.0.0.1:${publishedPort(server, 8080)}`;
    await waitFor(
      "the server to be ready",
      async () => (await fetch(`${base}/health/ready`)).ok
    );
    const body = (await (
      await fetch(`${base}/v1/models`, {
        headers: { authorization: `Bearer ${KEY}` },
      })
    ).json()) as { data: { engine?: string }[] };
    expect(body.data.map((m) => m.engine)).toContain("sherpa-whisper");
  });
});
