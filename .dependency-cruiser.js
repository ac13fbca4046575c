// The import structure, checked over the whole repository (`npm run lint:deps`): no cycles between folders or
// files, the library (constructs/) never reaches into the app, and the inference image's layers import downwards
// only (server -> engines, audio, params; engines -> params; audio and params import neither server nor engines).
/** A rule that files under `from` import nothing under `to`. */
const importsNothingOf = (name, comment, from, to) => ({ name, comment, severity: "error", from: { path: from }, to: { path: to } });

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-folder-cycles",
      comment: "Folders form a hierarchy: a folder cycle means one of them holds something the other needs and should live lower (e.g. in constructs/shared).",
      scope: "folder",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "no-file-cycles",
      comment: "Files form a hierarchy too: two files that import each other (types included) share something that belongs in a third.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    importsNothingOf(
      "library-not-app",
      "constructs/ is the published library: it must not import the app (main.ts, app/, environments/), the stacks, the scripts or the tests.",
      "^constructs/",
      "^(app|stacks|scripts|bench|environments|examples|test)/|^main\\.ts$",
    ),
    {
      name: "private-stays-in-its-area",
      comment:
        "A library area's private/ folder holds its internals: another area uses the area's constructs and contracts, not its internals (constructs/private/ is the internals every area shares).",
      severity: "error",
      from: { path: "^constructs/([^/]+)/" },
      to: { path: "^constructs/[^/]+/private/", pathNot: "^constructs/$1/private/" },
    },
    importsNothingOf(
      "public-face-not-private",
      "constructs/index.ts is what the package exports, each name bound by semver: nothing from a private/ folder.",
      "^constructs/index\\.ts$",
      "(^|/)private/",
    ),
    importsNothingOf(
      "examples-use-the-package",
      "The examples are what a platform team writes: they import the package (`voice-selfhost`), never the library's files.",
      "^examples/",
      "^(constructs|stacks|app)/",
    ),
    importsNothingOf(
      "audio-is-a-layer",
      "inference-image/src/audio/ parses, decodes, resamples and encodes audio and says what is wrong in its own errors: no HTTP, no engines.",
      "^inference-image/src/audio/",
      "^inference-image/src/(server|engines|license-proxy)/",
    ),
    importsNothingOf(
      "params-are-declarations",
      "inference-image/src/params/ declares the API's parameters: the server parses with them and the engines read their types, so they import neither.",
      "^inference-image/src/params/",
      "^inference-image/src/(server|engines|license-proxy)/",
    ),
    importsNothingOf(
      "engines-not-server",
      "inference-image/src/engines/ sits behind the Speech seam: it knows nothing of HTTP, sockets or the server.",
      "^inference-image/src/engines/",
      "^inference-image/src/server/",
    ),
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // What git ignores (generated output, scratch) and the deliberately broken fixtures (test/lint runs them on their own)
    // are not the repository's structure.
    exclude: { path: "(^|/)(node_modules|dist|cdktf\\.out|\\.gen|\\.terraform|\\.tmp|coverage|reports)/|^(docs/api|deploy/compose/generated|secrets)/|^test/fixtures/dependency-rules/" },
    tsPreCompilationDeps: true,
    // No tsConfig: with one, bare imports resolve against the tsconfig's folder, so the npm package "constructs"
    // was read as the local constructs/index.ts and every construct seemed to import the library's own index.
  },
};
