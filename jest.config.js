/** Two projects: the CDKTF app (root) and the inference image workspace. Both use SWC, not ts-jest, for speed. */
const swc = ["@swc/jest", { jsc: { parser: { syntax: "typescript" }, target: "es2022" }, module: { type: "commonjs" } }];

// The WASM audio codecs ship as ES modules only: Node 20.19+ requires them natively, jest needs them compiled
// (in both projects: the workload contract test loads the server's configuration, and with it the codecs).
const ESM_CODECS = ["mpg123-decoder", "ogg-opus-decoder", "opus-decoder", "@wasm-audio-decoders", "codec-parser", "mediabunny", "@mediabunny"].join("|");
const transform = { "^.+\\.ts$": swc, [`/node_modules/(${ESM_CODECS})/.+\\.m?js$`]: swc };
// Mediabunny's encoder extension registers itself in Mediabunny's ES module build: jest must load that one too.
const moduleNameMapper = { "^mediabunny$": `${__dirname}/node_modules/mediabunny/dist/modules/src/index.js` };
const transformIgnorePatterns = [`/node_modules/(?!(${ESM_CODECS})/)`];

module.exports = {
  // On a 2-core machine jest runs in band: a handle some library leaves open (a native addon's thread, a
  // keep-alive socket) would keep CI waiting after the last result, so the run ends when the results are in.
  forceExit: true,
  projects: [
    {
      displayName: "infra",
      rootDir: __dirname,
      testMatch: ["<rootDir>/test/**/*.test.ts"],
      transform,
      transformIgnorePatterns,
      setupFilesAfterEnv: ["<rootDir>/test/setup.ts"],
      testEnvironment: "node",
      // The examples import the library by its package name; here that is the source (test/package/pack.test.ts checks the packed one).
      moduleNameMapper: { ...moduleNameMapper, "^voice-selfhost$": "<rootDir>/constructs/index.ts" },
    },
    {
      displayName: "inference-image",
      rootDir: `${__dirname}/inference-image`,
      testMatch: ["<rootDir>/test/**/*.test.ts"],
      transform,
      transformIgnorePatterns,
      setupFiles: ["<rootDir>/test/setup-env.ts"],
      moduleNameMapper,
      testEnvironment: "node",
    },
  ],
};
