/**
 * The import rules of .dependency-cruiser.js fail on deliberate breaks. That they hold on the repository is
 * `npm run lint:deps`'s to prove (npm test runs it): this file does not lint the repository a second time. The
 * fixtures sit at the repository's own paths (inference-image/src/..., constructs/...), so a config that left a
 * part of the repository out would let their violations through and fail here.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const repo = path.resolve(__dirname, "../..");
const fixtures = path.join(repo, "test/fixtures/dependency-rules");

function cruise(cwd: string, ...targets: string[]): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, [path.join(repo, "node_modules/dependency-cruiser/bin/dependency-cruise.mjs"), "--config", path.join(repo, ".dependency-cruiser.js"), ...targets], {
    cwd,
    encoding: "utf8",
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

test("two files that import each other fail, within one folder and for a type only", () => {
  const { status, output } = cruise(path.join(fixtures, "file-cycle"), "inference-image");
  expect(status).not.toBe(0);
  expect(output).toMatch(/error no-file-cycles: inference-image\/src\/audio\/codecs\/(aac|encoders)\.ts →/);
  expect(output).not.toMatch(/no-folder-cycles/);
}, 30_000);

test.each([
  // The inference image's layers.
  ["audio-imports-server", "audio-is-a-layer", "inference-image/src/audio/upload.ts → inference-image/src/server/errors.ts"],
  ["engines-imports-server", "engines-not-server", "inference-image/src/engines/pool.ts → inference-image/src/server/context.ts"],
  ["params-import-engines", "params-are-declarations", "inference-image/src/params/live.ts → inference-image/src/engines/types.ts"],
  // The library's public face.
  ["area-imports-private", "private-stays-in-its-area", "constructs/ingress/listener.ts → constructs/cluster/private/pools.ts"],
  ["index-exports-private", "public-face-not-private", "constructs/index.ts → constructs/cluster/private/pools.ts"],
  ["example-imports-library", "examples-use-the-package", "examples/demo/main.ts → constructs/widget.ts"],
])("%s fails (%s)", (fixture, rule, edge) => {
  const { status, output } = cruise(path.join(fixtures, fixture), ".");
  expect(status).not.toBe(0);
  expect(output).toContain(`error ${rule}: ${edge}`);
}, 30_000);

test("two folders that import each other fail, though no module cycle exists", () => {
  const { status, output } = cruise(path.join(fixtures, "folder-cycle"), "constructs");
  expect(status).not.toBe(0);
  expect(output).toMatch(/error no-folder-cycles: constructs\/alpha →\s+constructs\/beta →\s+constructs\/alpha/);
}, 30_000);

test("the library importing the stacks fails", () => {
  const { status, output } = cruise(path.join(fixtures, "library-imports-app"), "constructs", "stacks");
  expect(status).not.toBe(0);
  expect(output).toMatch(/error library-not-app: constructs\/construct\.ts → stacks\/stack\.ts/);
}, 30_000);

test("building a network loads the network and its leaf helpers (shared, private) only: no policy rules, workloads or app (compiled dist/, as an app runs it)", () => {
  const dist = path.join(repo, "dist");
  if (!fs.existsSync(path.join(dist, "constructs/network/index.js"))) throw new Error("dist/ is missing: run `npm run build` first (npm test does)");
  const probe = `require(${JSON.stringify(path.join(dist, "constructs/network"))}); console.log(JSON.stringify(Object.keys(require.cache).filter((k) => k.startsWith(${JSON.stringify(dist)})).map((k) => k.slice(${dist.length + 1}))))`;
  const loaded = JSON.parse(spawnSync(process.execPath, ["-e", probe], { encoding: "utf8" }).stdout) as string[];
  expect(loaded.length).toBeGreaterThan(3);
  expect(loaded.filter((m) => !/^constructs\/(network|shared|private)\//.test(m))).toEqual([]);
}, 30_000);
