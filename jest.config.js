/** The CDKTF app (root) and the inference image workspace, each split into unit and e2e. Both use SWC, not ts-jest, for speed. */
const path = require("path");
const { E2E_TEST_FILES } = require("./test/suites");

const swc = ["@swc/jest", { jsc: { parser: { syntax: "typescript" }, target: "es2022" }, module: { type: "commonjs" } }];

// The WASM audio codecs and the pitch tracker (pitchy) ship as ES modules only: Node 20.19+ requires them natively,
// jest needs them compiled (in both projects: the workload contract test loads the server's configuration, and with it the codecs).
const ESM_CODECS = ["mpg123-decoder", "ogg-opus-decoder", "opus-decoder", "@wasm-audio-decoders", "codec-parser", "mediabunny", "@mediabunny", "pitchy"].join("|");
const transform = { "^.+\\.ts$": swc, [`/node_modules/(${ESM_CODECS})/.+\\.m?js$`]: swc };
// Mediabunny's encoder extension registers itself in Mediabunny's ES module build: jest must load that one too.
const moduleNameMapper = { "^mediabunny$": `${__dirname}/node_modules/mediabunny/dist/modules/src/index.js` };
const transformIgnorePatterns = [`/node_modules/(?!(${ESM_CODECS})/)`];

const e2eFiles = E2E_TEST_FILES.map((file) => path.join(__dirname, file));
const escape = (file) => file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const unitGuard = `${__dirname}/test/support/unit-guard.ts`;

/**
 * Each workspace is two projects: its unit files (guarded: no subprocess, no worker thread) and its end-to-end files
 * (test/suites.js lists them). `npm test` runs all four; `npm run test:unit` and `npm run test:e2e` select by name.
 */
function split(name, project) {
  const e2e = e2eFiles.filter((file) => file.startsWith(`${project.rootDir}/test/`));
  return [
    {
      ...project,
      displayName: `${name}:unit`,
      testPathIgnorePatterns: ["/node_modules/", ...e2e.map((file) => `^${escape(file)}$`)],
      setupFilesAfterEnv: [...(project.setupFilesAfterEnv ?? []), unitGuard],
    },
    { ...project, displayName: `${name}:e2e`, testMatch: e2e },
  ];
}

module.exports = {
  // Two test files at a time even on 2 cores (jest's default there is one): many end-to-end files mostly wait on
  // subprocesses (terraform, promtool, a server starting), and two overlap (BENCHMARKS.md, "The test suite").
  maxWorkers: 2,
  // A handle some library leaves open (a native addon's thread, a keep-alive socket) would keep CI waiting after
  // the last result, so the run ends when the results are in.
  forceExit: true,
  projects: [
    ...split("infra", {
      rootDir: __dirname,
      testMatch: ["<rootDir>/test/**/*.test.ts"],
      transform,
      transformIgnorePatterns,
      setupFilesAfterEnv: ["<rootDir>/test/setup.ts"],
      // The app synthesized from environments/ once per run, for the files that only read it.
      globalSetup: "<rootDir>/test/support/stock-synth.ts",
      globalTeardown: "<rootDir>/test/support/stock-synth-teardown.ts",
      testEnvironment: "node",
      // The examples import the library by its package name; here that is the source (test/package/pack.test.ts checks the packed one).
      moduleNameMapper: { ...moduleNameMapper, "^voice-selfhost$": "<rootDir>/constructs/index.ts" },
    }),
    ...split("image", {
      rootDir: `${__dirname}/inference-image`,
      testMatch: ["<rootDir>/test/**/*.test.ts"],
      transform,
      transformIgnorePatterns,
      setupFiles: ["<rootDir>/test/setup-env.ts"],
      moduleNameMapper,
      testEnvironment: "node",
    }),
  ],
};
