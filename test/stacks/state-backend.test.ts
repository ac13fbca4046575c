/**
 * Where each stack keeps its state: dev's local state at an absolute path outside the synth output
 * (it survives `npm run synth`, and the workloads stack's remote-state read finds it from its own
 * working directory); every other environment remote and locked, or synth refuses it.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigError, EnvironmentInput, parseEnvironment } from "../../app";
import { buildApp } from "../../main";
import { synthAll } from "../../scripts/synth";

const root = path.resolve(__dirname, "../..");
const document = (name: string) => JSON.parse(fs.readFileSync(path.join(root, "environments", `${name}.json`), "utf8")) as EnvironmentInput & Record<string, unknown>;

interface StackJson {
  terraform: { backend: Record<string, Record<string, unknown>> };
  data?: { terraform_remote_state?: Record<string, { backend: string; config: Record<string, unknown> }> };
}

let work: string;
beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "state-backend-"));
});
afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

const readStack = (outdir: string, stack: string) => JSON.parse(fs.readFileSync(path.join(outdir, "stacks", stack, "cdk.tf.json"), "utf8")) as StackJson;
const problemsOf = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error("expected a ConfigError");
};

describe("dev: local state outside the synth output", () => {
  const devWithState = (stateDir: string) => parseEnvironment({ ...document("dev"), stateBackend: { type: "local", path: stateDir } }, "environments/dev.json");

  test("the state files are absolute paths in the state folder, and the workloads stack reads the infra state there from its own folder", () => {
    const stateDir = path.join(work, "terraform-state");
    const outdir = path.join(work, "cdktf.out");
    buildApp({ outdir, environments: [devWithState(stateDir)] }).synth();
    const infra = readStack(outdir, "dev-infra");
    const workloads = readStack(outdir, "dev-workloads");
    expect(infra.terraform.backend).toEqual({ local: { path: path.join(stateDir, "dev-infra.tfstate") } });
    expect(workloads.terraform.backend).toEqual({ local: { path: path.join(stateDir, "dev-workloads.tfstate") } });

    // The workloads stack reads the infra state and the data stack's (the retained volumes' key).
    const reads = Object.values(workloads.data?.terraform_remote_state ?? {});
    expect(reads.map((r) => r.backend)).toEqual(["local", "local"]);
    // Terraform resolves a relative path from the stack's working directory: cdktf.out/stacks/dev-workloads.
    const resolved = reads.map((r) => path.resolve(path.join(outdir, "stacks", "dev-workloads"), String(r.config.path))).sort();
    expect(resolved).toEqual([path.join(stateDir, "dev-data.tfstate"), path.join(stateDir, "dev-infra.tfstate")]);
  });

  test("the default folder is terraform-state where synth runs, never inside cdktf.out", () => {
    const outdir = path.join(work, "cdktf.out");
    buildApp({ outdir, environments: [parseEnvironment(document("dev"), "environments/dev.json")] }).synth();
    expect(readStack(outdir, "dev-infra").terraform.backend).toEqual({ local: { path: path.resolve("terraform-state", "dev-infra.tfstate") } });
  });

  test("a state file survives a second synth (which replaces cdktf.out), at the path the stacks still name", () => {
    const stateDir = path.join(work, "terraform-state");
    const outdir = path.join(work, "cdktf.out");
    const env = devWithState(stateDir);
    const stateFile = path.join(stateDir, "dev-infra.tfstate");
    const synth = () => {
      const scratch = `${outdir}.partial-${process.pid}`;
      buildApp({ outdir: scratch, environments: [env] }).synth();
      fs.rmSync(outdir, { recursive: true, force: true });
      fs.renameSync(scratch, outdir);
    };
    synth();
    fs.mkdirSync(stateDir, { recursive: true });
    fs.writeFileSync(stateFile, '{"version": 4, "serial": 7}');
    synth();
    expect(fs.readFileSync(stateFile, "utf8")).toBe('{"version": 4, "serial": 7}');
    expect(readStack(outdir, "dev-infra").terraform.backend.local.path).toBe(stateFile);
  });

  test("npm run synth's own code path (synthAll) leaves the state folder alone", () => {
    const stateDir = path.join(work, "terraform-state");
    fs.mkdirSync(stateDir);
    fs.writeFileSync(path.join(stateDir, "dev-infra.tfstate"), "{}");
    const previous = process.env.ENVIRONMENTS_DIR;
    const envDir = path.join(work, "environments");
    fs.mkdirSync(envDir);
    fs.writeFileSync(path.join(envDir, "dev.json"), JSON.stringify({ ...document("dev"), stateBackend: { type: "local", path: stateDir } }));
    process.env.ENVIRONMENTS_DIR = envDir;
    try {
      synthAll(path.join(work, "cdktf.out"));
      synthAll(path.join(work, "cdktf.out"));
    } finally {
      if (previous === undefined) delete process.env.ENVIRONMENTS_DIR;
      else process.env.ENVIRONMENTS_DIR = previous;
    }
    expect(fs.readdirSync(stateDir)).toEqual(["dev-infra.tfstate"]);
  });

  test("a state folder inside the synth output is refused, naming the field", () => {
    const outdir = path.join(work, "cdktf.out");
    const problems = problemsOf(() => buildApp({ outdir, environments: [devWithState(path.join(outdir, "state"))] }).synth());
    expect(problems).toEqual([
      `environments/dev.json: field "stateBackend.path": expected a folder outside the synth output ${outdir}, found ${path.join(outdir, "state")}: every synth replaces that folder, and the state with it`,
    ]);
  });
});

describe("every environment but dev: remote and locked", () => {
  test.each(["staging", "prod", "airgapped"])("%s synthesizes an S3 backend with S3-native locking for its stacks", (name) => {
    const outdir = path.join(work, "cdktf.out");
    buildApp({ outdir, environments: [parseEnvironment(document(name), `environments/${name}.json`)] }).synth();
    for (const stack of [`${name}-data`, `${name}-infra`, `${name}-workloads`]) {
      const s3 = readStack(outdir, stack).terraform.backend.s3;
      expect(s3).toMatchObject({ encrypt: true, use_lockfile: true, key: expect.stringMatching(new RegExp(`/${stack}\\.tfstate$`)) });
    }
    const reads = Object.values(readStack(outdir, `${name}-workloads`).data?.terraform_remote_state ?? {});
    expect(reads.map((r) => [r.backend, r.config.key])).toEqual([
      ["s3", expect.stringMatching(new RegExp(`/${name}-data\\.tfstate$`))],
      ["s3", expect.stringMatching(new RegExp(`/${name}-infra\\.tfstate$`))],
    ]);
  });

  test("local state outside dev is a synth error that says what to write instead", () => {
    const { stateBackend: _remote, ...staging } = document("staging");
    expect(problemsOf(() => parseEnvironment(staging, "environments/staging.json"))).toEqual([
      'environments/staging.json: field "stateBackend": expected { "type": "s3", "bucket", "key", "region" } (remote, locked with useLockfile): local state is for the "dev" environment only, since a second operator or CI job would not see it and two applies could run at once, found nothing (missing)',
    ]);
  });

  test("an S3 backend without a lock is a synth error", () => {
    const prod = document("prod");
    const unlocked = { ...prod, stateBackend: { ...(prod.stateBackend as object), useLockfile: false } };
    expect(problemsOf(() => parseEnvironment(unlocked, "environments/prod.json"))).toEqual([
      'environments/prod.json: field "stateBackend.useLockfile": expected true: without a lock two applies can run at once and corrupt the state, found false',
    ]);
  });
});
