// A tiny in-memory TrainBatchSource for training tests: 28×28 images of a bright square at a varying place.
import type { TrainBatchSource } from "../../trainer/data/batch_source.js";
import { Rng } from "../../trainer/utils/rng.js";

/**
 * `count` synthetic images with learnable structure (a loss falls within a few dozen steps); `std` is the
 * normalisation std it reports (0 makes every input non-finite, for tests of the NaN guard).
 */
export function squaresSource(count = 64, std = 0.3): TrainBatchSource {
  const size = 28;
  const rng = Rng.fromSeed(11, "squares");
  const images = new Uint8Array(count * size * size);
  for (let i = 0; i < count; i++) {
    const top = rng.int(0, 18);
    const left = rng.int(0, 18);
    for (let y = 0; y < 10; y++)
      for (let x = 0; x < 10; x++) images[i * size * size + (top + y) * size + left + x] = 200 + rng.int(0, 55);
  }
  return {
    info: {
      origin: "memory://squares",
      height: size,
      width: size,
      channels: 1,
      numExamples: count,
      mean: [0.1],
      std: [std],
    },
    batchesPerEpoch: (b) => Math.floor(count / b),
    async batch(epoch, index, b) {
      const order = Rng.fromSeed(3, `epoch/${epoch}`).shuffle(Array.from({ length: count }, (_, i) => i));
      const picked = order.slice(index * b, (index + 1) * b);
      const out = new Uint8Array(b * size * size);
      for (const [j, src] of picked.entries())
        out.set(images.subarray(src * size * size, (src + 1) * size * size), j * size * size);
      return { images: out, labels: new Int32Array(b).fill(-1), indices: Int32Array.from(picked) };
    },
    async close() {},
  };
}
