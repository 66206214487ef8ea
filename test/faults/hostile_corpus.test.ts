// The hostile-input corpus, run through the CLI as a user would: small generated files (bombs declare huge sizes,
// they are not huge). Every case exits ≠ 0 with one message (and its fix), no stack trace, within 30 s and 1 GB;
// every file that existed before is byte-identical after.
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import * as fs from "node:fs/promises";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { initBackend } from "../../trainer/backend.js";
import { loadConfigFile } from "../../trainer/config/load_config.js";
import { shardDataset } from "../../trainer/data/shard_writer.js";
import { idxImagesBytes, idxLabelsBytes, writeIdxFolder, writeImageFolder } from "../data/fixtures.js";
import { trainSmokeRun } from "../export/smoke_run.js";
import { snapshotFiles } from "../support/file_snapshot.js";
import { idxGzBomb, longListYaml, lyingIdxGz } from "../support/hostile_inputs.js";
import { editState, poisonWeights } from "../support/tamper_checkpoint.js";
import { errorLines, runCli } from "./run_cli.js";

const configs = path.resolve(__dirname, "../../configs");
let base: string; // made once: a run, a dataset, a constant dataset, configs
let run: string;
let dataset: string;
let silent: net.Server;
const silentSockets = new Set<net.Socket>();
let silentEndpoint: string;

beforeAll(async () => {
  await initBackend("wasm");
  base = mkdtempSync(path.join(tmpdir(), "ijepa-hostile-"));
  run = path.join(base, "run");
  await trainSmokeRun(run, { steps: 2 });
  dataset = path.join(base, "dataset");
  await shardDataset({
    source: await writeIdxFolder(path.join(base, "idx"), { train: 40, test: 8, height: 28, width: 28 }),
    format: "idx",
    output: dataset,
  });
  // A dataset whose pixels are all equal (std 0).
  const flat = path.join(base, "flat-idx");
  mkdirSync(flat);
  const blank = (count: number) => {
    const bytes = idxImagesBytes(count, 28, 28);
    bytes.fill(128, 16);
    return gzipSync(bytes);
  };
  writeFileSync(path.join(flat, "train-images-idx3-ubyte.gz"), blank(40));
  writeFileSync(path.join(flat, "train-labels-idx1-ubyte.gz"), gzipSync(idxLabelsBytes(40)));
  writeFileSync(path.join(flat, "t10k-images-idx3-ubyte.gz"), blank(8));
  writeFileSync(path.join(flat, "t10k-labels-idx1-ubyte.gz"), gzipSync(idxLabelsBytes(8)));
  await shardDataset({ source: flat, format: "idx", output: path.join(base, "flat-dataset") });
  silent = net.createServer((socket) => {
    silentSockets.add(socket); // accepted, never answered
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  silentEndpoint = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  for (const s of silentSockets) s.destroy();
  await new Promise((resolve) => silent.close(resolve));
});

async function yamlConfig(
  dir: string,
  name: string,
  edit: (c: Record<string, any>) => void,
  preset = "smoke",
): Promise<string> {
  const config = (await loadConfigFile(path.join(configs, `${preset}.yaml`))) as Record<string, any>;
  edit(config);
  const file = path.join(dir, name);
  writeFileSync(file, stringify(config));
  return file;
}

function copyRun(dir: string): string {
  const copy = path.join(dir, "run");
  cpSync(run, copy, { recursive: true });
  return copy;
}

interface Case {
  /** Lays out the case's files under `dir`; returns the CLI arguments (and cwd / env). */
  setup(dir: string): Promise<{ args: string[]; cwd?: string; env?: Record<string, string> }>;
  message: RegExp;
}

const cases: Record<string, Case> = {
  "shard --source and --out the same folder": {
    async setup(dir) {
      const src = await writeImageFolder(path.join(dir, "photos"), ["cat", "dog"], 2);
      return { args: ["shard", "--source", src, "--format", "imagefolder", "--out", src, "--resolution", "16"] };
    },
    message: /are the same folder/,
  },
  "shard --out holding a user's parts/": {
    async setup(dir) {
      const out = path.join(dir, "out");
      mkdirSync(path.join(out, "parts"), { recursive: true });
      writeFileSync(path.join(out, "parts", "notes.json"), "{}\n");
      return {
        args: ["shard", "--source", await writeIdxFolder(path.join(dir, "src")), "--format", "idx", "--out", out],
      };
    },
    message: /holds files ijepa shard did not write \(parts\/notes\.json\)/,
  },
  "shard --out that is a file": {
    async setup(dir) {
      writeFileSync(path.join(dir, "out.txt"), "mine");
      return {
        args: [
          "shard",
          "--source",
          await writeIdxFolder(path.join(dir, "src")),
          "--format",
          "idx",
          "--out",
          path.join(dir, "out.txt"),
        ],
      };
    },
    message: /--out .*out\.txt is a file/,
  },
  "shard an IDX .gz declaring 2^31 images": {
    async setup(dir) {
      const src = await writeIdxFolder(path.join(dir, "src"));
      writeFileSync(path.join(src, "train-images-idx3-ubyte.gz"), lyingIdxGz([2 ** 31, 28, 28]));
      return { args: ["shard", "--source", src, "--format", "idx", "--out", path.join(dir, "out")] };
    },
    message: /declares dims \[2147483648, 28, 28\] = \d+ bytes, over the \d+-byte limit/,
  },
  "shard an IDX gzip bomb": {
    async setup(dir) {
      const src = await writeIdxFolder(path.join(dir, "src"));
      writeFileSync(path.join(src, "train-images-idx3-ubyte.gz"), idxGzBomb([50, 6, 5], 256 * 1024 * 1024));
      return { args: ["shard", "--source", src, "--format", "idx", "--out", path.join(dir, "out")] };
    },
    message: /inflates to more than the 1516 bytes its IDX header declares/,
  },
  "train --config that is a folder": {
    async setup(dir) {
      return { args: ["train", "--config", dir, "--data", dataset, "--out", path.join(dir, "out")] };
    },
    message: /config .* is a folder/,
  },
  "train --config /dev/zero": {
    async setup(dir) {
      return { args: ["train", "--config", "/dev/zero", "--data", dataset, "--out", path.join(dir, "out")] };
    },
    message: /config \/dev\/zero is not a regular file/,
  },
  "train --config of one long list": {
    async setup(dir) {
      writeFileSync(path.join(dir, "long.yaml"), longListYaml(2 * 1024 * 1024));
      return {
        args: ["train", "--config", path.join(dir, "long.yaml"), "--data", dataset, "--out", path.join(dir, "out")],
      };
    },
    message: /over the 1048576 bytes a config may have/,
  },
  "train with data.crop_size 100000": {
    async setup(dir) {
      const cfg = await yamlConfig(dir, "crop.yaml", (c) => (c.data.crop_size = 100_000));
      return { args: ["train", "--config", cfg, "--data", dataset, "--out", path.join(dir, "out")] };
    },
    message: /asks for more memory than any machine we know: .*625000000 patches/,
  },
  "train with meta.depth 10000": {
    async setup(dir) {
      const cfg = await yamlConfig(dir, "deep.yaml", (c) => (c.meta.depth = 10_000), "fmnist-vit-tiny");
      return { args: ["train", "--config", cfg, "--data", dataset, "--out", path.join(dir, "out"), "--replicas", "1"] };
    },
    message: /asks for more memory than this machine has: .*× 10000 blocks/,
  },
  "train --out that is a file": {
    async setup(dir) {
      writeFileSync(path.join(dir, "run.txt"), "mine");
      return { args: ["train", "--config", "smoke", "--data", dataset, "--out", path.join(dir, "run.txt")] };
    },
    message: /--out .*run\.txt is a file/,
  },
  "train --out . in a folder with the user's config.yaml": {
    async setup(dir) {
      writeFileSync(path.join(dir, "config.yaml"), "# my own\n");
      return { args: ["train", "--config", "smoke", "--data", dataset, "--out", "."], cwd: dir };
    },
    message: /is not a run but holds config\.yaml.*/,
  },
  "train --resume-from an earlier step": {
    async setup(dir) {
      return { args: ["train", "--out", copyRun(dir), "--resume-from", "1", "--data", dataset] };
    },
    message: /--resume-from 1 .* would rewrite its history: checkpoint\(s\) 2/,
  },
  "train --resume with a state.json missing a section": {
    async setup(dir) {
      const r = copyRun(dir);
      editState(r, 2, (d) => delete d.state.schedules);
      return { args: ["train", "--out", r, "--resume", "--data", dataset] };
    },
    message: /state\.json: state: schedules: /,
  },
  "train --resume with batch size 0 in state.json": {
    async setup(dir) {
      const r = copyRun(dir);
      editState(r, 2, (d) => (d.state.config.data.batch_size = 0));
      return { args: ["train", "--out", r, "--resume", "--data", dataset] };
    },
    message: /state\.json: .*data\.batch_size/,
  },
  "train --resume with optimization.lr: null": {
    async setup(dir) {
      const r = copyRun(dir);
      editState(r, 2, (d) => (d.state.config.optimization.lr = null));
      return { args: ["train", "--out", r, "--resume", "--data", dataset] };
    },
    message: /state\.json: .*optimization\.lr/,
  },
  "train --resume from NaN weights": {
    async setup(dir) {
      const r = copyRun(dir);
      poisonWeights(r, 2, /^predictor\.predictor_embed\.weight$/);
      return { args: ["train", "--out", r, "--resume", "--data", dataset] };
    },
    message: /model\.safetensors: tensor predictor\.predictor_embed\.weight holds 1 NaN\/Inf/,
  },
  "train on data whose pixels are all equal": {
    async setup(dir) {
      return {
        args: [
          "train",
          "--config",
          "smoke",
          "--data",
          path.join(base, "flat-dataset"),
          "--out",
          path.join(dir, "out"),
          "--replicas",
          "1",
        ],
      };
    },
    message: /channel 0 of the training images has std (0|[\d.e-]+ ≈ 0) \(every pixel is 128 of 255\): the pixels are/,
  },
  "train on a manifest whose shard key has '..'": {
    async setup(dir) {
      const ds = path.join(dir, "dataset");
      cpSync(dataset, ds, { recursive: true });
      const file = path.join(ds, "manifest.json");
      const m = JSON.parse(await fs.readFile(file, "utf8"));
      m.splits.train.shards[0].images.key = "../../../etc/passwd";
      writeFileSync(file, JSON.stringify(m));
      return { args: ["train", "--config", "smoke", "--data", ds, "--out", path.join(dir, "out")] };
    },
    message: /images\.key: expected a relative key inside the dataset folder/,
  },
  "export a checkpoint with NaN weights": {
    async setup(dir) {
      const r = copyRun(dir);
      poisonWeights(r, 2, /^target_encoder\.blocks\.0\.mlp\.fc1\.weight$/);
      return { args: ["export", "--checkpoint", r, "--format", "safetensors", "--to", path.join(dir, "export")] };
    },
    message: /checkpoints\/00000002\/.*tensor (target_encoder\.)?blocks\.0\.mlp\.fc1\.weight holds 1 NaN\/Inf/,
  },
  "export --to a folder with the user's README.md": {
    async setup(dir) {
      mkdirSync(path.join(dir, "project"));
      writeFileSync(path.join(dir, "project", "README.md"), "# mine\n");
      return { args: ["export", "--checkpoint", run, "--format", "tfjs", "--to", path.join(dir, "project")] };
    },
    message: /holds README\.md, not written by an ijepa tfjs export/,
  },
  "pull --to a folder holding another run": {
    async setup(dir) {
      return { args: ["pull", "--run", run, "--to", copyRun(dir)] };
    },
    message: /already holds another run: .*--force/s,
  },
  "pull --to a file": {
    async setup(dir) {
      writeFileSync(path.join(dir, "copy"), "mine");
      return { args: ["pull", "--run", run, "--to", path.join(dir, "copy")] };
    },
    message: /--to .*copy is a file/,
  },
  "pull from an S3 endpoint that never answers": {
    async setup(dir) {
      return {
        args: ["pull", "--run", "s3://bucket/runs/r1", "--to", path.join(dir, "copy")],
        env: {
          IJEPA_S3_ENDPOINT: silentEndpoint,
          IJEPA_S3_SOCKET_TIMEOUT_MS: "500",
          IJEPA_S3_CONNECT_TIMEOUT_MS: "500",
          AWS_MAX_ATTEMPTS: "2",
          AWS_ACCESS_KEY_ID: "test",
          AWS_SECRET_ACCESS_KEY: "test",
        },
      };
    },
    message: /no answer from the S3 endpoint http:\/\/127\.0\.0\.1:\d+ \(timeouts: connect 0\.5 s, no answer 0\.5 s\)/,
  },
};

describe.concurrent("hostile inputs through the CLI", () => {
  it.each(Object.entries(cases))("%s", async (_name, c) => {
    const dir = mkdtempSync(path.join(tmpdir(), "ijepa-case-"));
    const { args, cwd, env } = await c.setup(dir);
    const before = await snapshotFiles(dir);
    const baseBefore = await snapshotFiles(base);
    const result = await runCli(args, { cwd, env, timeoutMs: 60_000 });
    const lines = errorLines(result.stderr);
    expect(result.code, result.stderr).toBe(1);
    expect(lines[0], result.stderr).toMatch(/^error: /);
    expect(lines.join("\n")).toMatch(c.message);
    expect(lines.length, result.stderr).toBeLessThanOrEqual(2);
    if (lines[1]) expect(lines[1]).toMatch(/^ {2}fix: /);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.seconds).toBeLessThan(30);
    expect(result.peakRssBytes).toBeLessThan(1024 ** 3);
    expect(await snapshotFiles(dir)).toEqual(before);
    expect(await snapshotFiles(base)).toEqual(baseBefore);
  });
});
