/**
 * Loaded before every file of the unit suite (jest.config.js): a unit file that starts a subprocess (an engine's
 * tool, terraform, podman, promtool, npm, a second node) or a worker thread (the engine pool) fails at that call,
 * naming the list it belongs in. That is what keeps `npm run test:unit` fast without a list that drifts: a new
 * slow file cannot join the unit suite silently.
 */
const E2E_LIST = "test/suites.js (E2E_TEST_FILES)";

function refuse(what: string): never {
  throw new Error(`a unit test file may not start ${what}: list the file in ${E2E_LIST}, or give the test a fake`);
}

function guardedChildProcess(): typeof import("node:child_process") {
  const actual = jest.requireActual<typeof import("node:child_process")>("node:child_process");
  const guarded = { ...actual };
  for (const name of ["spawn", "spawnSync", "exec", "execSync", "execFile", "execFileSync", "fork"] as const) {
    Object.assign(guarded, { [name]: (command: unknown) => refuse(`a subprocess (child_process.${name} ${String(command)})`) });
  }
  return guarded;
}

function guardedWorkerThreads(): typeof import("node:worker_threads") {
  const actual = jest.requireActual<typeof import("node:worker_threads")>("node:worker_threads");
  return {
    ...actual,
    Worker: class {
      constructor() {
        refuse("a worker thread (the engine pool starts one per worker)");
      }
    } as unknown as typeof actual.Worker,
  };
}

jest.mock("child_process", guardedChildProcess);
jest.mock("node:child_process", guardedChildProcess);
jest.mock("worker_threads", guardedWorkerThreads);
jest.mock("node:worker_threads", guardedWorkerThreads);
