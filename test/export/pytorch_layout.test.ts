// encoder.safetensors as a PyTorch user meets it: the official VisionTransformer's state-dict names, order, shapes,
// dtype and layouts (checked by running the official forward pass on the file). Without torch: it is not
// installed on the development machine (`python3 -c "import torch"` fails), so official_vit_reference.ts stands in.
import { readFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/backend.js";
import { openEvalSplit } from "../../trainer/data/open_train_source.js";
import { pooledFeatures } from "../../trainer/models/pooled_features.js";
import { exportEncoder } from "../../trainer/export/export_encoder.js";
import { loadExportedEncoder } from "../../trainer/export/load_exported_encoder.js";
import { resizeBatch } from "../../trainer/transforms.js";
import { officialPooledFeatures, readSafetensorsLikeTorch } from "./official_vit_reference.js";
import { trainSmokeRun } from "./smoke_run.js";
import { tempDir } from "../support/temp_dir.js";

let exportDir: string;

beforeAll(async () => {
  await initBackend("wasm");
  const run = tempDir("layout-run");
  await trainSmokeRun(run, { steps: 2, data: "fashion-mnist" });
  exportDir = tempDir("layout-export");
  await exportEncoder({ checkpoint: run, format: "safetensors", to: exportDir });
});

/** The smoke config's encoder (embed_dim 32, depth 2, 2 heads, mlp_ratio 4, 28 px, patch 4, 1 channel), from the official module tree. */
function officialStateDictOfSmokeEncoder(): Array<[string, number[]]> {
  const block = (i: number): Array<[string, number[]]> => [
    [`blocks.${i}.norm1.weight`, [32]],
    [`blocks.${i}.norm1.bias`, [32]],
    [`blocks.${i}.attn.qkv.weight`, [96, 32]],
    [`blocks.${i}.attn.qkv.bias`, [96]],
    [`blocks.${i}.attn.proj.weight`, [32, 32]],
    [`blocks.${i}.attn.proj.bias`, [32]],
    [`blocks.${i}.norm2.weight`, [32]],
    [`blocks.${i}.norm2.bias`, [32]],
    [`blocks.${i}.mlp.fc1.weight`, [128, 32]],
    [`blocks.${i}.mlp.fc1.bias`, [128]],
    [`blocks.${i}.mlp.fc2.weight`, [32, 128]],
    [`blocks.${i}.mlp.fc2.bias`, [32]],
  ];
  // VisionTransformer registers pos_embed (its own Parameter, saved first), then the modules patch_embed, blocks, norm.
  return [
    ["pos_embed", [1, 49, 32]],
    ["patch_embed.proj.weight", [32, 1, 4, 4]],
    ["patch_embed.proj.bias", [32]],
    ...block(0),
    ...block(1),
    ["norm.weight", [32]],
    ["norm.bias", [32]],
  ];
}

describe("encoder.safetensors for PyTorch", () => {
  it("holds exactly the official state dict's names, in its order, with its shapes, as float32", () => {
    const { header } = readSafetensorsLikeTorch(readFileSync(path.join(exportDir, "encoder.safetensors")));
    const entries = Object.entries(header).filter(([name]) => name !== "__metadata__") as Array<
      [string, { dtype: string; shape: number[]; data_offsets: [number, number] }]
    >;
    expect(entries.map(([name, e]) => [name, e.shape])).toEqual(officialStateDictOfSmokeEncoder());
    expect(new Set(entries.map(([, e]) => e.dtype))).toEqual(new Set(["F32"]));
    // Stored back to back in that order (the file order is the header order).
    let offset = 0;
    for (const [, e] of entries) {
      expect(e.data_offsets[0]).toBe(offset);
      offset = e.data_offsets[1];
    }
    expect(header.__metadata__).toMatchObject({ format: "pt" });
  });

  it("stores pos_embed as the official fixed 2-D sin-cos table (first half: column, second half: row)", () => {
    const { tensors } = readSafetensorsLikeTorch(readFileSync(path.join(exportDir, "encoder.safetensors")));
    const pos = tensors.get("pos_embed")!.data;
    const D = 32;
    const G = 7;
    // get_2d_sincos_pos_embed: meshgrid(grid_w, grid_h) puts the column index first; each half is [sin(pos·ω), cos(pos·ω)], ω_k = 10000^(−k/(D/4)).
    for (let row = 0; row < G; row++) {
      for (let col = 0; col < G; col++) {
        for (let k = 0; k < D / 4; k++) {
          const omega = 1 / 10000 ** (k / (D / 4));
          const at = (row * G + col) * D;
          expect(pos[at + k]).toBeCloseTo(Math.sin(col * omega), 6);
          expect(pos[at + D / 4 + k]).toBeCloseTo(Math.cos(col * omega), 6);
          expect(pos[at + D / 2 + k]).toBeCloseTo(Math.sin(row * omega), 6);
          expect(pos[at + (3 * D) / 4 + k]).toBeCloseTo(Math.cos(row * omega), 6);
        }
      }
    }
  });

  it("gives the official forward pass the features our encoder computes (so every layout is PyTorch's)", async () => {
    const config = JSON.parse(readFileSync(path.join(exportDir, "config.json"), "utf8")) as {
      img_size: number;
      patch_size: number;
      in_chans: number;
      embed_dim: number;
      depth: number;
      num_heads: number;
      layer_norm_eps: number;
      normalization: { mean: number[]; std: number[] };
    };
    const split = await openEvalSplit("fashion-mnist", "test", { limit: 6 });
    const { mean, std } = config.normalization;
    const ours = pooledFeatures(await loadExportedEncoder(exportDir), split, mean, std);
    const { tensors } = readSafetensorsLikeTorch(readFileSync(path.join(exportDir, "encoder.safetensors")));
    const inputs = resizeBatch(
      split.images,
      split.count,
      split.height,
      split.width,
      split.channels,
      config.img_size,
      mean,
      std,
    );
    const official = officialPooledFeatures(
      tensors,
      {
        imgSize: config.img_size,
        patchSize: config.patch_size,
        inChans: config.in_chans,
        embedDim: config.embed_dim,
        depth: config.depth,
        numHeads: config.num_heads,
        eps: config.layer_norm_eps,
      },
      inputs,
      split.count,
    );
    expect(ours.length).toBe(official.length);
    const worst = ours.reduce((m, v, i) => Math.max(m, Math.abs(v - official[i])), 0);
    expect(worst).toBeLessThan(1e-4);
    // The features are not trivially equal (e.g. all zero): they differ between images.
    expect(Math.abs(ours[0] - ours[config.embed_dim])).toBeGreaterThan(1e-3);
  });
});
