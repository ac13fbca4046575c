/** Two projects: the CDKTF app (root) and the inference image workspace. Both use SWC, not ts-jest, for speed. */
const swc = ["@swc/jest", { jsc: { parser: { syntax: "typescript" }, target: "es2022" }, module: { type: "commonjs" } }];

const ESM_CODECS = ["mpg123-decoder", "ogg-opus-decoder", "opus-decoder", "@wasm-audio-decoders", "codec-parser"].join("|");

module.exports = {
  projects: [
    {
      displayName: "infra",
      rootDir: __dirname,
      testMatch: ["<rootDir>/test/**/*.test.ts"],
      transform: { "^.+\\.ts$": swc },
      setupFilesAfterEnv: ["<rootDir>/test/setup.ts"],
      testEnvironment: "node",
      // The examples import the library by its package name; here that is the source (test/package/pack.test.ts checks the packed one).
      moduleNameMapper: { "^voice-selfhost$": "<rootDir>/constructs/index.ts" },
    },
    {
      displayName: "inference-image",
      rootDir: `${__dirname}/inference-image`,
      testMatch: ["<rootDir>/test/**/*.test.ts"],
      // The WASM audio codecs ship as ES modules only: Node 20.19+ requires them natively, jest needs them compiled.
      transform: { "^.+\\.ts$": swc, [`/node_modules/(${ESM_CODECS})/.+\\.js$`]: swc },
      transformIgnorePatterns: [`/node_modules/(?!(${ESM_CODECS})/)`],
      setupFiles: ["<rootDir>/test/setup-env.ts"],
      testEnvironment: "node",
    },
  ],
};
