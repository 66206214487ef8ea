// Import rules (dependency-cruiser): the README's "may import" table as rules; no cycles between folders of trainer/.
//
// MAY_IMPORT is the README's table (Design notes → The tree), row for row: a module under a key may import
// modules of its own folder and of the folders listed, nothing else of this repository. Keep the two in step
// (test/house/import_rules.test.ts compares them). Packages are free except where a rule below says otherwise.

/** trainer/, bottom up: each layer may import only layers above it in this list. */
const MAY_IMPORT = {
  "trainer/errors.ts": [],
  "trainer/system_errors.ts": ["trainer/errors.ts"],
  "trainer/utils/": ["trainer/errors.ts"],
  "trainer/kernels/": ["trainer/errors.ts"],
  "trainer/backend.ts": ["trainer/kernels/", "trainer/errors.ts"],
  "trainer/storage/": ["trainer/errors.ts"],
  "trainer/transforms.ts": ["trainer/utils/", "trainer/errors.ts"],
  "trainer/masks/": ["trainer/utils/", "trainer/errors.ts"],
  "trainer/models/": [
    "trainer/masks/",
    "trainer/utils/",
    "trainer/kernels/",
    "trainer/transforms.ts",
    "trainer/errors.ts",
  ],
  "trainer/optim/": ["trainer/models/", "trainer/errors.ts"],
  "trainer/config/": ["trainer/models/", "trainer/masks/", "trainer/errors.ts"],
  "trainer/run/": ["trainer/config/", "trainer/storage/", "trainer/errors.ts"],
  "trainer/data/": ["trainer/run/", "trainer/storage/", "trainer/utils/", "trainer/errors.ts"],
  "trainer/checkpoint/": [
    "trainer/run/",
    "trainer/storage/",
    "trainer/models/",
    "trainer/config/",
    "trainer/utils/",
    "trainer/errors.ts",
  ],
  "trainer/report/": ["trainer/run/", "trainer/storage/", "trainer/config/", "trainer/errors.ts"],
  "trainer/eval/": [
    "trainer/checkpoint/",
    "trainer/data/",
    "trainer/run/",
    "trainer/models/",
    "trainer/storage/",
    "trainer/utils/",
    "trainer/backend.ts",
    "trainer/errors.ts",
  ],
  "trainer/export/": [
    "trainer/checkpoint/",
    "trainer/data/",
    "trainer/run/",
    "trainer/models/",
    "trainer/config/",
    "trainer/storage/",
    "trainer/utils/",
    "trainer/backend.ts",
    "trainer/errors.ts",
  ],
  "trainer/train/": [
    "trainer/checkpoint/",
    "trainer/data/",
    "trainer/run/",
    "trainer/optim/",
    "trainer/models/",
    "trainer/masks/",
    "trainer/config/",
    "trainer/storage/",
    "trainer/utils/",
    "trainer/kernels/",
    "trainer/backend.ts",
    "trainer/transforms.ts",
    "trainer/errors.ts",
  ],
  "trainer/aws/": ["trainer/run/", "trainer/errors.ts"],
  "functions/": ["trainer/"],
  "local/": ["bin/cdk_app.ts", "lib/", "functions/", "trainer/"],
  "bin/": ["trainer/", "local/"],
  "bin/cdk_app.ts": ["lib/", "trainer/errors.ts"],
  // The CDK app shares names with the code it deploys (the run contract's keys and input schema, the trainer's
  // metric names in trainer/aws/), never the ML core: the rule "cdk-never-loads-the-ml-core" below.
  "lib/": ["functions/", "trainer/run/", "trainer/aws/", "trainer/errors.ts"],
  "test/": ["trainer/", "functions/", "bin/", "lib/", "local/", "scripts/"],
  "bench/": ["trainer/", "functions/", "test/"],
  "scripts/": ["trainer/"],
};

/** Exceptions within a row's "may import" (README: "`trainer/` except …"); none at present. */
const NOT_FROM = {};

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const pathOf = (key) => `^${escapeRegExp(key)}${key.endsWith("/") ? "" : "$"}`;
const ownFolders = ["trainer/", "functions/", "bin/", "lib/", "local/", "test/", "bench/", "scripts/"];

const tableRules = Object.entries(MAY_IMPORT).map(([from, allowed]) => ({
  name: `may-import:${from}`,
  comment: `${from} may import ${allowed.length ? allowed.join(", ") : "nothing of this repository"} (README)`,
  severity: "error",
  // A more specific row (bin/cdk_app.ts within bin/) decides for its own modules.
  from: {
    path: pathOf(from),
    pathNot: Object.keys(MAY_IMPORT)
      .filter((k) => k !== from && k.startsWith(from))
      .map(pathOf),
  },
  to: {
    path: `^(${ownFolders.map(escapeRegExp).join("|")})`,
    pathNot: [pathOf(from), ...allowed.map(pathOf)],
  },
}));

const notFromRules = Object.entries(NOT_FROM).map(([from, forbidden]) => ({
  name: `never:${from}`,
  comment: `${from} never imports ${forbidden.join(", ")} (README: The tree)`,
  severity: "error",
  from: { path: pathOf(from) },
  to: { path: forbidden.map(pathOf) },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...tableRules,
    ...notFromRules,
    {
      name: "no-cycles-between-folders",
      comment:
        "no cycle of imports leaves its folder of trainer/ (one inside a folder is that folder's business); with the " +
        "table's rows acyclic (the test checks), no folder reaches back to a folder that reaches it",
      severity: "error",
      from: { path: "^trainer/([^/]+)/" },
      to: { circular: true, via: { pathNot: "^trainer/$1/" } },
    },
    {
      name: "cdk-never-loads-the-ml-core",
      comment: "synthesizing the CDK app loads no TensorFlow.js and no image library, however indirectly",
      severity: "error",
      from: { path: "^(lib/|bin/cdk_app\\.ts$)" },
      to: { path: "node_modules/(@tensorflow|sharp)/", reachable: true },
    },
    {
      name: "no-terminal-in-core",
      comment: "terminal I/O (bars, flag parsing) lives with the CLI commands in bin/, never in trainer/ or functions/",
      severity: "error",
      from: { path: "^(trainer|functions)/" },
      to: { path: "node_modules/(cli-progress|commander)/" },
    },
    {
      name: "aws-sdk-only-in-storage",
      comment: "the ML core never imports an AWS SDK: stores are passed in (storage/s3_store.ts is the one S3 user)",
      severity: "error",
      from: { path: "^trainer/", pathNot: "^trainer/storage/" },
      to: { path: "node_modules/@aws-sdk/" },
    },
    {
      name: "no-unresolvable",
      comment: "an import that resolves to nothing is a typo or a missing package",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Run on "." so that folders still to come (lib/) are cruised when they arrive.
    includeOnly: { path: "^(trainer|functions|bin|lib|test|bench|scripts)/|node_modules/" },
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(node_modules|cdk\\.out)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".js", ".mjs", ".cjs", ".json", ".d.ts"],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};

// For the test that holds the README's table to these rules (not enumerable: the config schema allows no extra keys).
Object.defineProperty(module.exports, "MAY_IMPORT", { value: MAY_IMPORT, enumerable: false });
Object.defineProperty(module.exports, "NOT_FROM", { value: NOT_FROM, enumerable: false });
