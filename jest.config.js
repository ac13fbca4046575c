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
