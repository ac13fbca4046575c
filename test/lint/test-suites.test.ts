/**
 * The unit/e2e split (test/suites.js, jest.config.js): every listed e2e file exists (a renamed one would fall into the
 * unit suite), and in a unit file the guard refuses the subprocesses and worker threads that make a file end-to-end.
 */
import * as childProcess from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Worker } from "node:worker_threads";

const { E2E_TEST_FILES } = require("../suites") as { E2E_TEST_FILES: string[] };
const root = path.resolve(__dirname, "../..");

test("every e2e file listed exists, once", () => {
  const missing = E2E_TEST_FILES.filter((file) => !fs.existsSync(path.join(root, file)));
  expect(missing).toEqual([]);
  expect(new Set(E2E_TEST_FILES).size).toBe(E2E_TEST_FILES.length);
});

test("a unit file that starts a subprocess fails, naming where e2e files are listed", () => {
  expect(() => childProcess.spawnSync(process.execPath, ["--version"])).toThrow(/a unit test file may not start a subprocess \(child_process\.spawnSync .*node.*\): list the file in test\/suites\.js/);
  expect(() => childProcess.execFile("terraform")).toThrow(/child_process\.execFile terraform/);
  expect(() => (require("child_process") as typeof childProcess).spawn("podman")).toThrow(/child_process\.spawn podman/);
});

test("a unit file that starts a worker thread (the engine pool) fails", () => {
  expect(() => new Worker("setTimeout(() => {}, 1)", { eval: true })).toThrow(/a unit test file may not start a worker thread/);
});
