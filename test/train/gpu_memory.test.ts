// GPU memory estimates: parameter counts against the official models, the presets that must fit a 24 GB GPU,
// and the refusal of one that cannot.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfigFile } from "../../trainer/config/load_config.js";
import { ConfigError } from "../../trainer/errors.js";
import { checkGpuFit, estimateTrainingMemory, largestFittingBatch } from "../../trainer/train/gpu_memory.js";
import { initBackend } from "../../trainer/backend.js";
import { IJepa } from "../../trainer/models/ijepa.js";
import { resolveModelDims } from "../../trainer/models/model_dims.js";

const configs = path.resolve(__dirname, "../../configs");
const load = (name: string) => loadConfigFile(path.join(configs, `${name}.yaml`));
const GIB = 1024 ** 3;
/** What nvidia-smi reports for an A10G (g5) and an L4 (g6): 23028 / 23034 MiB. */
const A10G = { name: "NVIDIA A10G", memoryBytes: 23028 * 1024 * 1024 };

describe("estimateTrainingMemory", () => {
  it("counts exactly the trainable parameters our models have", async () => {
    await initBackend("cpu");
    const c = await load("fmnist-vit-tiny");
    const model = IJepa.initialise(resolveModelDims(c, 1), 0);
    const e = estimateTrainingMemory(c, 1);
    expect(e.encoderParams).toBe(model.encoder.params.numParams(true));
    expect(e.predictorParams).toBe(model.predictor.params.numParams(true));
    model.dispose();
  });

  it("counts ViT-H/14's parameters as the official model has them (632M encoder)", async () => {
    const e = estimateTrainingMemory(await load("in1k-vith14"), 3);
    expect(e.encoderParams / 1e6).toBeGreaterThan(629);
    expect(e.encoderParams / 1e6).toBeLessThan(634);
    // Weights, gradients, two AdamW moments (encoder + predictor) and the EMA target: 4 (E + P) + E floats.
    expect(e.stateBytes).toBe(4 * (4 * (e.encoderParams + e.predictorParams) + e.encoderParams));
  });

  it("grows with the batch size by the activations only (not quite 2×: smaller batches keep more context tokens)", async () => {
    const c = await load("gpu-vits16-224");
    const half = estimateTrainingMemory({ ...c, data: { ...c.data, batch_size: c.data.batch_size / 2 } });
    const full = estimateTrainingMemory(c);
    expect(full.stateBytes).toBe(half.stateBytes);
    expect(full.activationBytes / half.activationBytes).toBeGreaterThan(1.7);
    expect(full.activationBytes / half.activationBytes).toBeLessThanOrEqual(2);
  });
});

describe("GPU presets on one 24 GB GPU", () => {
  for (const name of ["gpu-vits16-224", "gpu-vitb16-224"]) {
    it(`${name} fits an A10G with room to spare`, async () => {
      const e = checkGpuFit(await load(name), A10G, 3, name);
      expect(e.totalBytes).toBeLessThan(0.9 * A10G.memoryBytes);
    });
  }

  it("refuses the official ViT-H/14 at batch 128, naming the estimate and a batch that fits", async () => {
    const c = await load("in1k-vith14");
    expect(() => checkGpuFit(c, A10G, 3, "in1k-vith14")).toThrow(ConfigError);
    expect(() => checkGpuFit(c, A10G, 3, "in1k-vith14")).toThrow(
      /in1k-vith14: does not fit one NVIDIA A10G \(22\.5 GiB\): vit_huge\/14 @224px, batch 128: ~\d+/,
    );
    const fits = largestFittingBatch(c, A10G.memoryBytes);
    expect(fits).toBeGreaterThan(0);
    expect(fits).toBeLessThan(16);
    expect(() => checkGpuFit(c, A10G, 3, "x")).toThrow(new RegExp(`batch_size to ${fits} or less`));
    expect(estimateTrainingMemory({ ...c, data: { ...c.data, batch_size: fits } }).totalBytes).toBeLessThanOrEqual(
      A10G.memoryBytes,
    );
    expect(estimateTrainingMemory({ ...c, data: { ...c.data, batch_size: fits + 1 } }).totalBytes).toBeGreaterThan(
      A10G.memoryBytes,
    );
    expect(estimateTrainingMemory(c).totalBytes / GIB).toBeGreaterThan(80);
  });
});
