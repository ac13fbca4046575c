// The folder structure, checked: no cycles between folders, and the library (constructs/) never reaches into the app.
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
      name: "library-not-app",
      comment: "constructs/ is the published library: it must not import the app (main.ts, app/, environments/), the stacks, the scripts or the tests.",
      severity: "error",
      from: { path: "^constructs/" },
      to: { path: "^(app|stacks|scripts|bench|environments|examples|test)/|^main\\.ts$" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(node_modules|dist|cdktf\\.out)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
  },
};
