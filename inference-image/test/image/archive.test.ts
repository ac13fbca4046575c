/**
 * The air-gap carry (scripts/image-archive.sh): the image and a model folder into one archive, then
 * loaded back with every checksum and the image ID checked; a tampered archive imports nothing.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describeWithImage, IMAGE, podman, removeDir, REPO_ROOT, sharedDir } from "./podman";

jest.setTimeout(300_000);

const archiveScript = (args: string[]) => {
  const r = spawnSync(path.join(REPO_ROOT, "scripts/image-archive.sh"), args, { encoding: "utf8", timeout: 240_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
};

describeWithImage("air-gap archive", ["podman"], () => {
  let dir = "";
  afterAll(() => dir && removeDir(dir));

  it("carries the image and a model folder, and refuses a tampered archive", () => {
    dir = sharedDir("vs-archive-");
    mkdirSync(path.join(dir, "models/demo"), { recursive: true });
    writeFileSync(path.join(dir, "models/demo/model.onnx"), "not really weights");
    const archive = path.join(dir, "carry.tar");
    expect(archiveScript(["save", archive, "--models", path.join(dir, "models"), IMAGE])).toMatchObject({ code: 0 });

    // A model file changed after the archive was made: the load must stop before importing anything.
    const unpacked = path.join(dir, "unpacked");
    mkdirSync(unpacked);
    expect(spawnSync("tar", ["-xf", archive, "-C", unpacked]).status).toBe(0);
    writeFileSync(path.join(unpacked, "models/demo/model.onnx"), "swapped weights");
    const tampered = path.join(dir, "tampered.tar");
    expect(spawnSync("tar", ["-cf", tampered, "-C", unpacked, "."]).status).toBe(0);
    const bad = archiveScript(["load", tampered, "--models", path.join(dir, "bad-dest")]);
    expect(bad).toMatchObject({ code: 1 });
    expect(bad.out).toContain("checksum mismatch, nothing imported");
    expect(existsSync(path.join(dir, "bad-dest"))).toBe(false);

    const id = podman(["image", "inspect", "--format", "{{.Id}}", IMAGE]).stdout.trim();
    const good = archiveScript(["load", archive, "--models", path.join(dir, "dest")]);
    expect(good).toMatchObject({ code: 0 });
    expect(good.out).toContain(`loaded ${IMAGE} (${id})`);
    expect(readFileSync(path.join(dir, "dest/demo/model.onnx"), "utf8")).toBe("not really weights");
  });
});
