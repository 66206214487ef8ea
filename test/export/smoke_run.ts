// Test fixture: small real runs made by train() with the smoke config (a few steps, a checkpoint after each), and helpers to look at them.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadConfigFile } from "../../trainer/config/load_config.js";
import type { TrainBatchSource } from "../../trainer/data/batch_source.js";
import { type TrainResult, train } from "../../trainer/train/train_loop.js";
import { Rng } from "../../trainer/utils/rng.js";

const SMOKE_CONFIG = path.resolve(__dirname, "../../configs/smoke.yaml");

export const tempDir = (label: string): string => mkdtempSync(path.join(tmpdir(), `ijepa-${label}-`));

/** Synthetic 28×28 images with a bright square at a varying place (as test/train/train_loop.test.ts uses). */
export function squaresSource(count = 64): TrainBatchSource {
  const size = 28;
  const rng = Rng.fromSeed(11, "squares");
  const images = new Uint8Array(count * size * size);
  for (let i = 0; i < count; i++) {
    const top = rng.int(0, 18);
    const left = rng.int(0, 18);
    for (let y = 0; y < 10; y++) for (let x = 0; x < 10; x++) images[i * size * size + (top + y) * size + left + x] = 200 + rng.int(0, 55);
  }
  return {
    info: { origin: "memory://squares", height: size, width: size, channels: 1, numExamples: count, mean: [0.1], std: [0.3] },
    batchesPerEpoch: (b) => Math.floor(count / b),
    async batch(epoch, index, b) {
      const order = Rng.fromSeed(3, `epoch/${epoch}`).shuffle(Array.from({ length: count }, (_, i) => i));
      const picked = order.slice(index * b, (index + 1) * b);
      const out = new Uint8Array(b * size * size);
      picked.forEach((src, j) => out.set(images.subarray(src * size * size, (src + 1) * size * size), j * size * size));
      return { images: out, labels: new Int32Array(b).fill(-1), indices: Int32Array.from(picked) };
    },
    async close() {},
  };
}

export interface SmokeRunOptions {
  steps: number;
  /** "fashion-mnist" trains on the real dataset (so the run records it); default: in-memory squares. */
  data?: "fashion-mnist";
  /** Continue an existing run in `out`. */
  resume?: boolean;
}

/** Trains the smoke config for `steps` steps into `out`, writing a checkpoint after every step. */
export async function trainSmokeRun(out: string, options: SmokeRunOptions): Promise<TrainResult> {
  const config = await loadConfigFile(SMOKE_CONFIG);
  config.logging.checkpoint_every = 1;
  config.logging.collapse_sample = 16;
  // Without this, a run fed the in-memory source would record the config's dataset as its training data.
  if (!options.data) config.data.dataset = undefined;
  return train({
    config,
    configName: "smoke",
    out,
    maxSteps: options.steps,
    resume: options.resume,
    replicas: 1,
    progressBar: false,
    log: () => undefined,
    ...(options.data ? { data: options.data } : { source: squaresSource() }),
  });
}
