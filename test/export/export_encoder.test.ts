// exportEncoder / loadExportedEncoder / runExportCommand on runs made by train(): the target encoder, both formats, bit-exact round trips.
import { cpSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/backend.js";
import { loadCheckpoint } from "../../trainer/checkpoint/checkpoint_store.js";
import { loadConfigFile } from "../../trainer/config/load_config.js";
import { type EvalSplit, openEvalSplit } from "../../trainer/data/open_train_source.js";
import { ConfigError, CorruptDataError, NotFoundError } from "../../trainer/errors.js";
import { pooledFeatures } from "../../trainer/models/pooled_features.js";
import { parseCheckpointLocation } from "../../trainer/checkpoint/checkpoint_location.js";
import { describeEncoder } from "../../trainer/export/encoder_config.js";
import { runExportCommand } from "../../bin/commands/export.js";
import { exportEncoder } from "../../trainer/export/export_encoder.js";
import { pytorchConstructor, safetensorsReadme } from "../../trainer/export/export_readme.js";
import { loadExportedEncoder, readExportedEncoder } from "../../trainer/export/load_exported_encoder.js";
import { resolveModelDims } from "../../trainer/models/model_dims.js";
import { toOfficialLayout } from "../../trainer/models/param_table.js";
import { VisionTransformer } from "../../trainer/models/vision_transformer.js";
import { LocalObjectStore } from "../../trainer/storage/local_store.js";
import { trainSmokeRun } from "./smoke_run.js";
import { tempDir } from "../support/temp_dir.js";

/** Fashion-MNIST's training-split pixel statistics (the values torchvision users quote: 0.2860, 0.3530). */
const FMNIST_MEAN = 0.286;
const FMNIST_STD = 0.353;

let run: string;
let images: EvalSplit;

/** The checkpoint's own target encoder, rebuilt through the training code's importState. */
async function checkpointTargetEncoder(dir: string, step: number | "latest") {
  const checkpoint = await loadCheckpoint(new LocalObjectStore(dir), step);
  const patch = checkpoint.model.get("target_encoder.patch_embed.proj.weight")!;
  const config = await loadConfigFile(path.resolve(__dirname, "../../configs/smoke.yaml"));
  const dims = resolveModelDims(config, patch.shape[1]);
  const encoder = new VisionTransformer(
    dims,
    (spec) => new Float32Array(spec.shape.reduce((a, b) => a * b, 1)),
    "reference",
  );
  encoder.params.importState(
    checkpoint.model as Map<string, { shape: number[]; data: Float32Array }>,
    "target_encoder.",
  );
  return { encoder, checkpoint };
}

const bytesOf = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const features = (encoder: VisionTransformer) => pooledFeatures(encoder, images, [FMNIST_MEAN], [FMNIST_STD]);

beforeAll(async () => {
  await initBackend("wasm");
  run = tempDir("export-run");
  await trainSmokeRun(run, { steps: 2, data: "fashion-mnist" });
  images = await openEvalSplit("fashion-mnist", "test", { limit: 24 });
});

describe("exportEncoder", () => {
  it("writes encoder.safetensors with the bare official names, README.md, and config.json last", async () => {
    const to = tempDir("st");
    const result = await exportEncoder({ checkpoint: run, format: "safetensors", to });
    expect(result.files.map((f) => f.key)).toEqual(["encoder.safetensors", "README.md", "config.json"]);
    expect(readdirSync(to).sort()).toEqual(["README.md", "config.json", "encoder.safetensors"]);
    const config = JSON.parse(readFileSync(path.join(to, "config.json"), "utf8"));
    expect(config).toMatchObject({
      format: "ijepa-vit-encoder",
      weight_layout: "pytorch",
      model_name: "vit_tiny",
      official_preset: false,
      img_size: 28,
      patch_size: 4,
      in_chans: 1,
      embed_dim: 32,
      depth: 2,
      num_heads: 2,
      mlp_ratio: 4,
      qkv_bias: true,
      layer_norm_eps: 1e-6,
      num_patches: 49,
      step: 2,
      epoch: 0,
      source: path.join(run, "checkpoints/00000002") + "/",
      config_name: "smoke",
    });
    expect(config.normalization.mean[0]).toBeCloseTo(FMNIST_MEAN, 3);
    expect(config.normalization.std[0]).toBeCloseTo(FMNIST_STD, 3);
    const readme = readFileSync(path.join(to, "README.md"), "utf8");
    expect(readme).toContain(
      "encoder = vit.VisionTransformer(img_size=[28], patch_size=4, in_chans=1, embed_dim=32, depth=2, num_heads=2, mlp_ratio=4, qkv_bias=True, norm_layer=partial(nn.LayerNorm, eps=1e-06))",
    );
    expect(readme).toContain(
      `encoder.load_state_dict(load_file(${JSON.stringify(path.join(to, "encoder.safetensors"))}))`,
    );
    expect(readme).toContain(`mean = torch.tensor([${config.normalization.mean[0]}])`);
  });

  it("exports the target (EMA) encoder's weights, not the context encoder's", async () => {
    const to = tempDir("target");
    await exportEncoder({ checkpoint: run, format: "safetensors", to });
    const exported = await readExportedEncoder(to);
    const { checkpoint, encoder } = await checkpointTargetEncoder(run, "latest");
    encoder.params.dispose();
    let differsFromContext = 0;
    for (const spec of VisionTransformer.specs(encoder.dims)) {
      const fromFile = toOfficialLayout(spec, exported.weights.get(spec.name)!);
      const target = checkpoint.model.get(`target_encoder.${spec.name}`)!.data as Float32Array;
      expect(bytesOf(fromFile).equals(bytesOf(target)), spec.name).toBe(true);
      const context = checkpoint.model.get(`encoder.${spec.name}`)!.data as Float32Array;
      if (fromFile.some((v, i) => v !== context[i])) differsFromContext += 1;
    }
    expect(differsFromContext).toBeGreaterThan(10);
  });

  for (const format of ["safetensors", "tfjs"] as const) {
    it(`round-trips as ${format}: the loaded encoder's pooled features equal the checkpoint's target encoder's bit for bit`, async () => {
      const to = tempDir(`rt-${format}`);
      await exportEncoder({ checkpoint: run, format, to });
      const loaded = await loadExportedEncoder(to);
      const { encoder } = await checkpointTargetEncoder(run, "latest");
      try {
        const expected = features(encoder);
        const actual = features(loaded);
        expect(Array.from(actual)).toEqual(Array.from(expected));
        expect(new Set(expected).size).toBeGreaterThan(expected.length / 2);
      } finally {
        loaded.params.dispose();
        encoder.params.dispose();
      }
    });
  }

  it("writes the tfjs weights format: model.json with weightsManifest and our ViT topology, one float32 shard in tfjs layout", async () => {
    const to = tempDir("tfjs");
    const result = await exportEncoder({ checkpoint: run, format: "tfjs", to });
    expect(result.files.map((f) => f.key)).toEqual(["group1-shard1of1.bin", "README.md", "model.json"]);
    type ManifestEntry = { name: string; shape: number[]; dtype: string };
    const model = JSON.parse(readFileSync(path.join(to, "model.json"), "utf8")) as {
      weightsManifest: Array<{ paths: string[]; weights: ManifestEntry[] }>;
    };
    expect(model).toMatchObject({
      format: "ijepa-vit-encoder",
      convertedBy: null,
      modelTopology: { weight_layout: "tfjs", embed_dim: 32, depth: 2, step: 2 },
    });
    expect(model.weightsManifest).toHaveLength(1);
    expect(model.weightsManifest[0].paths).toEqual(["group1-shard1of1.bin"]);
    const shapes = new Map(model.weightsManifest[0].weights.map((w) => [w.name, w.shape]));
    expect(model.weightsManifest[0].weights.every((w) => w.dtype === "float32")).toBe(true);
    expect(shapes.get("pos_embed")).toEqual([49, 32]);
    expect(shapes.get("patch_embed.proj.weight")).toEqual([16, 32]);
    expect(shapes.get("blocks.1.attn.qkv.weight")).toEqual([32, 96]);
    expect(shapes.get("blocks.1.mlp.fc2.weight")).toEqual([128, 32]);
    const params = [...shapes.values()].reduce((n, shape) => n + shape.reduce((a, b) => a * b, 1), 0);
    expect(statSync(path.join(to, "group1-shard1of1.bin")).size).toBe(4 * params);
    expect(readFileSync(path.join(to, "README.md"), "utf8")).toContain("ready for `tf.matMul(x, W)`");
  });

  it("exports the step of a checkpoint folder instead of the latest", async () => {
    const to = tempDir("step1");
    const result = await exportEncoder({ checkpoint: path.join(run, "checkpoints/00000001/"), format: "tfjs", to });
    expect(result.config.step).toBe(1);
    const loaded = await loadExportedEncoder(path.join(to, "model.json"));
    const { encoder } = await checkpointTargetEncoder(run, 1);
    try {
      expect(Array.from(features(loaded))).toEqual(Array.from(features(encoder)));
    } finally {
      loaded.params.dispose();
      encoder.params.dispose();
    }
  });

  it("writes the same bytes when the same checkpoint is exported again", async () => {
    const to = tempDir("again");
    await exportEncoder({ checkpoint: run, format: "safetensors", to });
    const first = readdirSync(to).map((f) => readFileSync(path.join(to, f)));
    await exportEncoder({ checkpoint: run, format: "safetensors", to });
    expect(readdirSync(to).map((f) => readFileSync(path.join(to, f)))).toEqual(first);
  });

  it("takes the normalisation the checkpoint recorded; without one and with unreachable data, records none and says why; a given one wins", async () => {
    const squares = tempDir("squares-run");
    await trainSmokeRun(squares, { steps: 1 });
    const recorded = await exportEncoder({ checkpoint: squares, format: "safetensors", to: tempDir("recorded") });
    expect(recorded.config.normalization).toMatchObject({ mean: [0.1], std: [0.3] });
    // An older checkpoint without state.normalization, trained on data this machine cannot open.
    const statePath = path.join(squares, "checkpoints/00000001/state.json");
    const doc = JSON.parse(readFileSync(statePath, "utf8"));
    delete doc.state.normalization;
    writeFileSync(statePath, JSON.stringify(doc));
    const unknown = await exportEncoder({ checkpoint: squares, format: "safetensors", to: tempDir("nonorm") });
    expect(unknown.config.normalization).toBeNull();
    expect(unknown.normalizationMissing).toContain("memory://squares");
    expect(readFileSync(path.join(unknown.to, "README.md"), "utf8")).toContain("could not be found at export time");
    const given = await exportEncoder({
      checkpoint: squares,
      format: "tfjs",
      to: tempDir("given"),
      normalization: { mean: [0.5], std: [0.2] },
    });
    expect(given.config.normalization).toEqual({ mean: [0.5], std: [0.2], source: "given" });
    await expect(
      exportEncoder({
        checkpoint: squares,
        format: "tfjs",
        to: tempDir("bad"),
        normalization: { mean: [0.1, 0.2], std: [0.3] },
      }),
    ).rejects.toThrow(ConfigError);
  });

  it("refuses a model file whose checksum does not match state.json", async () => {
    const damaged = tempDir("damaged-run");
    cpSync(run, damaged, { recursive: true });
    const file = path.join(damaged, "checkpoints/00000002/model.safetensors");
    const bytes = readFileSync(file);
    bytes[bytes.length - 5] ^= 0x01;
    writeFileSync(file, bytes);
    const error = await exportEncoder({ checkpoint: damaged, format: "safetensors", to: tempDir("x") }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CorruptDataError);
    expect((error as CorruptDataError).uri).toBe(file);
  });

  it("names the steps there are when the checkpoint folder does not exist", async () => {
    await expect(
      exportEncoder({ checkpoint: path.join(run, "checkpoints/00000009"), format: "tfjs", to: tempDir("y") }),
    ).rejects.toThrow(/complete checkpoints: 1, 2/);
  });

  it("keeps each format in its own folder", async () => {
    const to = tempDir("mixed");
    await exportEncoder({ checkpoint: run, format: "safetensors", to });
    await expect(exportEncoder({ checkpoint: run, format: "tfjs", to })).rejects.toThrow(
      /already holds a safetensors export/,
    );
  });
});

describe("loadExportedEncoder", () => {
  it("says what it looked for in a folder without an export", async () => {
    const error = await loadExportedEncoder(tempDir("empty")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).message).toMatch(/model\.json, or config\.json with encoder\.safetensors/);
  });

  it("refuses a truncated weights shard", async () => {
    const to = tempDir("trunc");
    await exportEncoder({ checkpoint: run, format: "tfjs", to });
    const shard = path.join(to, "group1-shard1of1.bin");
    writeFileSync(shard, readFileSync(shard).subarray(0, 1000));
    await expect(loadExportedEncoder(to)).rejects.toThrow(CorruptDataError);
    await expect(loadExportedEncoder(to)).rejects.toThrow(/needs \d+ bytes of float32 weights, the shards hold 1000/);
  });

  it("names a weight the description does not have room for", async () => {
    const to = tempDir("extra");
    await exportEncoder({ checkpoint: run, format: "safetensors", to });
    const config = JSON.parse(readFileSync(path.join(to, "config.json"), "utf8"));
    writeFileSync(path.join(to, "config.json"), JSON.stringify({ ...config, depth: 1 }));
    await expect(loadExportedEncoder(to)).rejects.toThrow(/weight blocks\.1\.norm1\.weight belongs to no layer/);
  });
});

describe("runExportCommand", () => {
  it("prints every file written, the dims, the normalisation and where the loading code is", async () => {
    const out: string[] = [];
    const to = tempDir("cmd");
    await runExportCommand(
      { checkpoint: run, format: "safetensors", to },
      { stdout: { write: (t: string) => out.push(t) } },
    );
    const text = out.join("");
    expect(text).toContain(
      `exported the target encoder of ${path.join(run, "checkpoints/00000002")}/ (step 2) as safetensors to ${to}:`,
    );
    expect(text).toContain(`${path.join(to, "encoder.safetensors")} (`);
    expect(text).toContain("vit_tiny dims: 32 wide, 2 blocks, 2 heads, 28×28×1 input in 4px patches");
    expect(text).toMatch(/inputs: \(x\/255 − mean\) \/ std with mean \[0\.28/);
    expect(text).toContain(`how to load it: ${path.join(to, "README.md")}`);
  });
});

describe("export descriptions", () => {
  it("builds a preset's encoder with the official vit_* constructor, which fixes its dims", async () => {
    const config = await loadConfigFile(path.resolve(__dirname, "../../configs/smoke.yaml"));
    config.meta.embed_dim = undefined;
    config.meta.depth = undefined;
    config.meta.num_heads = undefined;
    config.meta.pred_emb_dim = 48;
    const dims = resolveModelDims(config, 1);
    const described = describeEncoder(config, dims, "pytorch", null, {
      step: 5,
      epoch: 0,
      source: "s3://b/r/checkpoints/00000005/",
      checkpointWrittenAt: "t",
    });
    expect(described).toMatchObject({ official_preset: true, embed_dim: 192, depth: 12, num_heads: 3 });
    expect(pytorchConstructor(described)).toBe('vit.__dict__["vit_tiny"](img_size=[28], patch_size=4, in_chans=1)');
    const readme = safetensorsReadme(described, "s3://b/export");
    expect(readme).toContain('encoder.load_state_dict(load_file("encoder.safetensors"))');
    expect(readme).not.toContain("from functools import partial");
  });

  it("reads a run or one checkpoint folder out of a URI, keeping its form", () => {
    expect(parseCheckpointLocation("s3://b/runs/r1")).toEqual({ runUri: "s3://b/runs/r1", step: "latest" });
    expect(parseCheckpointLocation("s3://b/runs/r1/checkpoints/00000120/")).toEqual({
      runUri: "s3://b/runs/r1",
      step: 120,
    });
    expect(parseCheckpointLocation("s3://b/checkpoints/00000007")).toEqual({ runUri: "s3://b", step: 7 });
    expect(parseCheckpointLocation("file:///data/r1/checkpoints/00000003")).toEqual({
      runUri: "file:///data/r1",
      step: 3,
    });
    expect(parseCheckpointLocation("checkpoints/00000003/")).toEqual({ runUri: ".", step: 3 });
    expect(parseCheckpointLocation("./runs/r1/")).toEqual({ runUri: "./runs/r1", step: "latest" });
    expect(() => parseCheckpointLocation("./runs/r1/checkpoints")).toThrow(ConfigError);
    expect(() => parseCheckpointLocation("./runs/r1/checkpoints/latest.json")).toThrow(
      /neither a run nor one checkpoint folder/,
    );
  });
});

afterAll(() => rmSync(run, { recursive: true, force: true }));
