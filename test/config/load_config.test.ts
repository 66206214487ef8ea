import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfigFile, parseConfig } from "../../trainer/config/load_config.js";
import { ConfigError } from "../../trainer/errors.js";

const base = `
data: { batch_size: 8, crop_size: 28 }
mask: { patch_size: 4, min_keep: 3, pred_mask_scale: [0.1, 0.2], num_pred_masks: 3 }
meta: { model_name: vit_tiny, pred_depth: 1, pred_emb_dim: 24 }
optimization: { epochs: 1, lr: 0.001, start_lr: 0.0002, warmup: 1 }
`;

describe("config presets", () => {
  const dir = path.resolve(__dirname, "../../configs");
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".yaml"))) {
    it(`${file} is valid`, async () => {
      const config = await loadConfigFile(path.join(dir, file));
      expect(config.meta.use_bfloat16).toBe(false);
    });
  }
});

describe("config errors name the key and the fix", () => {
  it("fills the official defaults for keys left out", () => {
    const c = parseConfig(base);
    expect(c.mask.enc_mask_scale).toEqual([0.85, 1.0]);
    expect(c.optimization.ema).toEqual([0.996, 1.0]);
    expect(c.optimization.loss).toBe("smooth_l1");
    expect(c.logging.log_every).toBe(10);
  });

  it("a misspelt key says which and suggests the right one", () => {
    expect(() => parseConfig(base.replace("min_keep: 3", "min_kep: 3"), "my.yaml")).toThrow(
      /my\.yaml: mask\.min_kep: unknown key \(did you mean mask\.min_keep\?\)/,
    );
    expect(() => parseConfig(base + "optimisation: {}\n")).toThrow(
      /optimisation: unknown key \(did you mean optimization\?\)/,
    );
  });

  it("an invalid enum value lists the allowed ones", () => {
    expect(() => parseConfig(base.replace("vit_tiny", "vit_tiny2"))).toThrow(
      /meta\.model_name: "vit_tiny2" is not allowed; expected one of "vit_tiny", "vit_small"/,
    );
  });

  it("a missing required key is named", () => {
    expect(() => parseConfig(base.replace("batch_size: 8, ", ""))).toThrow(/data\.batch_size: missing/);
  });

  it("bf16 is refused: tfjs computes in float32", () => {
    expect(() => parseConfig(base.replace("pred_emb_dim: 24", "pred_emb_dim: 24, use_bfloat16: true"))).toThrow(
      /meta\.use_bfloat16: .*float32 only/,
    );
  });

  it("dims that do not fit together are named", () => {
    expect(() => parseConfig(base.replace("crop_size: 28", "crop_size: 30"))).toThrow(
      /data\.crop_size 30 is not a multiple of mask\.patch_size 4/,
    );
    expect(() =>
      parseConfig(base.replace("pred_emb_dim: 24", "pred_emb_dim: 24, embed_dim: 100, num_heads: 3")),
    ).toThrow(/embed_dim 100 is not divisible by meta\.num_heads 3/);
  });

  it("ranges must be ordered", () => {
    expect(() => parseConfig(base.replace("pred_mask_scale: [0.1, 0.2]", "pred_mask_scale: [0.3, 0.2]"))).toThrow(
      /mask\.pred_mask_scale: expected \[min, max\]/,
    );
  });

  it("bad YAML and a missing file are ConfigErrors", async () => {
    expect(() => parseConfig("data: [")).toThrow(ConfigError);
    await expect(loadConfigFile("/nonexistent/cfg.yaml")).rejects.toThrow(
      /config file not found: \/nonexistent\/cfg\.yaml/,
    );
  });
});

describe("config consistency checked when the config is read", () => {
  it("refuses masks that can never be sampled, naming the mask keys, before any data is touched", () => {
    const official = base.replace(
      "min_keep: 3, pred_mask_scale: [0.1, 0.2], num_pred_masks: 3",
      "min_keep: 10, pred_mask_scale: [0.15, 0.2], num_pred_masks: 4",
    );
    expect(() => parseConfig(official, "fm.yaml")).toThrow(
      /fm\.yaml: mask\.min_keep=10 cannot be met by target blocks/,
    );
  });

  it("refuses meta.read_checkpoint, pointing at --resume-from", () => {
    expect(() =>
      parseConfig(base.replace("pred_emb_dim: 24", "pred_emb_dim: 24, read_checkpoint: jepa-ep10.pth.tar")),
    ).toThrow(/meta\.read_checkpoint: .*--resume-from/);
  });
});
