/** The compiled synth entry point (what `npm run synth` runs): a bad config exits non-zero and writes nothing. */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const root = path.join(__dirname, "..", "..");
const synthJs = path.join(root, "dist", "scripts", "synth.js");
const fixtures = path.join(__dirname, "..", "fixtures", "config");

function synth(environmentsDir: string, outdir: string) {
  return spawnSync(process.execPath, [synthJs], {
    cwd: root,
    env: { ...process.env, ENVIRONMENTS_DIR: environmentsDir, CDKTF_OUTDIR: outdir, CHECKPOINT_DISABLE: "1" },
    encoding: "utf8",
    timeout: 120_000,
  });
}

/** Every file under `dir`, by relative path, with its content. */
function snapshot(dir: string): Record<string, string> {
  const files = fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => fs.statSync(path.join(dir, f)).isFile());
  return Object.fromEntries(files.sort().map((f) => [f, fs.readFileSync(path.join(dir, f), "utf8")]));
}

describe("compiled synth (dist/scripts/synth.js)", () => {
  let work: string;
  let goodDir: string;
  let badDir: string;

  beforeAll(() => {
    if (!fs.existsSync(synthJs)) throw new Error(`${synthJs} is missing: run \`npm run build\` first (npm test does)`);
  });
  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "synth-cli-"));
    goodDir = path.join(work, "good");
    badDir = path.join(work, "bad");
    fs.mkdirSync(goodDir);
    fs.mkdirSync(badDir);
    fs.copyFileSync(path.join(fixtures, "valid", "minimal.json"), path.join(goodDir, "minimal.json"));
    // A good file next to a bad one: nothing at all may be written, not even the good stack.
    fs.copyFileSync(path.join(fixtures, "valid", "minimal.json"), path.join(badDir, "minimal.json"));
    fs.copyFileSync(path.join(fixtures, "invalid", "one-az.json"), path.join(badDir, "one-az.json"));
  });
  afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

  test("a bad environment exits non-zero, names file and field, and leaves no output", () => {
    const outdir = path.join(work, "cdktf.out");
    const result = synth(badDir, outdir);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(`${path.join(badDir, "one-az.json")}: field "availabilityZones": expected at least 2 item(s), found ["eu-west-1a"]`);
    expect(fs.readdirSync(work).sort()).toEqual(["bad", "good"]);
  });

  test("a failed run leaves a previous good output untouched", () => {
    const outdir = path.join(work, "cdktf.out");
    const first = synth(goodDir, outdir);
    expect({ status: first.status, stderr: first.stderr }).toMatchObject({ status: 0 });
    expect(fs.existsSync(path.join(outdir, "stacks", "minimal-infra", "cdk.tf.json"))).toBe(true);
    const before = snapshot(outdir);

    const second = synth(badDir, outdir);
    expect(second.status).not.toBe(0);
    expect(snapshot(outdir)).toEqual(before);
    expect(fs.readdirSync(work).sort()).toEqual(["bad", "cdktf.out", "good"]);
  });
});
