// A config is bounded before anything is built: parameters, memory and time per step estimated, the unfit refused.
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/backend.js";
import { loadConfigFile, parseConfig } from "../../trainer/config/load_config.js";
import { estimateResources, refuseUnfitConfig } from "../../trainer/config/resource_estimate.js";
import type { TrainConfig } from "../../trainer/config/schema.js";
import { ConfigError } from "../../trainer/errors.js";
import { IJepa } from "../../trainer/models/ijepa.js";
import { resolveModelDims } from "../../trainer/models/model_dims.js";
import { train } from "../../trainer/train/train_loop.js";
import { tempDir } from "../support/temp_dir.js";
import { squaresSource } from "../support/squares_source.js";

const configs = path.resolve(__dirname, "../../configs");
let smoke: TrainConfig;
let tiny: TrainConfig;
beforeAll(async () => {
  await initBackend("wasm");
  smoke = await loadConfigFile(path.join(configs, "smoke.yaml"));
  tiny = await loadConfigFile(path.join(configs, "fmnist-vit-tiny.yaml"));
});

describe("resource estimate", () => {
  it("counts exactly the parameters the model has", () => {
    for (const config of [smoke, tiny]) {
      const dims = resolveModelDims(config, 1);
      const model = IJepa.initialise(dims, 0);
      const e = estimateResources(dims, config.data.batch_size, config.mask.num_pred_masks);
      expect(e.encoderParams).toBe(model.encoder.params.numParams(true));
      expect(e.predictorParams).toBe(model.predictor.params.numParams(true));
      model.dispose();
    }
  });

  it("refuses data.crop_size 100000 when the config is read, with the arithmetic, before building the sampler", () => {
    const config = structuredClone(smoke) as Record<string, any>;
    config.data.crop_size = 100_000;
    const err = (() => {
      try {
        parseConfig(config, "huge.yaml");
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(
      /huge\.yaml asks for more memory than any machine we know: .* 25000×25000 = 625000000 patches/,
    );
    expect((err as Error).message).toMatch(
      /activations for data\.batch_size 16 ≈ [\d.]+ EB.*one step would take ≈ \d+ days/,
    );
  });

  it("refuses against a given memory with parameters × 4 bytes × copies + activations in the message", () => {
    const config = structuredClone(tiny);
    config.meta.depth = 10_000;
    const dims = resolveModelDims(config, 1);
    expect(() => refuseUnfitConfig("x.yaml", dims, 128, 3, 16e9, "this machine has")).toThrow(
      new RegExp(
        "× 10000 blocks .*: [\\d.]+ G parameters × 4 bytes × 4–5 copies .* = [\\d.]+ GB, " +
          "plus activations .* ≈ [\\d.]+ (GB|TB), in all ≈ [\\d.]+ (GB|TB) > 16\\.0 GB",
      ),
    );
    expect(
      refuseUnfitConfig("x.yaml", resolveModelDims(tiny, 1), 128, 3, 16e9, "this machine has").totalBytes,
    ).toBeLessThan(2e9);
  });

  it("makes `ijepa train` with meta.depth 10000 fail at once, naming the machine's memory", async () => {
    const config = structuredClone(tiny);
    config.meta.depth = 10_000;
    const out = tempDir("depth"); // batch 128: ~0.7 TB, more than any test machine
    const err = await train({
      config,
      out,
      source: squaresSource(256),
      replicas: 1,
      log: () => {},
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/asks for more memory than this machine has: .*× 10000 blocks/);
  });
});
