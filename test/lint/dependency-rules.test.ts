/** The folder rules of .dependency-cruiser.js (run by `npm run lint`): they hold on the repository and fail on deliberate breaks. */
import { spawnSync } from "child_process";
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

test("the repository has no folder cycle and the library imports nothing of the app", () => {
  const { status, output } = cruise(repo, "main.ts", "app", "constructs", "stacks", "scripts", "bench");
  expect(output).toMatch(/no dependency violations found/);
  expect(status).toBe(0);
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
