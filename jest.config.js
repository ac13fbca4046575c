/** Two projects: the CDKTF app (root) and the inference image workspace. Both use SWC, not ts-jest, for speed. */
const swc = ["@swc/jest", { jsc: { parser: { syntax: "typescript" }, target: "es2022" }, module: { type: "commonjs" } }];

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
      transform: { "^.+\\.ts$": swc },
      testEnvironment: "node",
    },
  ],
};
