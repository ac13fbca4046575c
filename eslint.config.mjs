// Lint is deliberately small: it guards the rules that cost real time or safety when broken.
import tseslint from "typescript-eslint";

const deepPathOnly =
  "Import provider classes by deep path (e.g. @cdktf/provider-aws/lib/vpc): the package root loads ~2,200 modules and costs ~10x in synth and test time.";

export default tseslint.config(
  { ignores: ["**/node_modules/**", "**/dist/**", "cdktf.out/**", "**/*.js", "**/*.mjs", "**/*.d.ts", "examples/**/.gen/**"] },
  {
    files: ["**/*.ts"],
    languageOptions: { parser: tseslint.parser },
    plugins: { "@typescript-eslint": tseslint.plugin },
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: ["@cdktf/provider-aws", "@cdktf/provider-kubernetes", "@cdktf/provider-helm"].map((name) => ({
            name,
            message: deepPathOnly,
          })),
        },
      ],
    },
  },
);
