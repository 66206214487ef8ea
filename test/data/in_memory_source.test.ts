// InMemoryTrainSource and the epoch orders: every example once per epoch, seeded, random-access, last partial batch dropped.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { epochPermutation, shardOfExample, shardStarts, windowedEpochOrder } from "../../trainer/data/epoch_order.js";
import { InMemoryTrainSource } from "../../trainer/data/in_memory_source.js";

function source(n: number, seed: number, side = 2): InMemoryTrainSource {
  const images = new Uint8Array(n * side * side);
  for (let i = 0; i < n; i++) images.fill(i % 256, i * side * side, (i + 1) * side * side);
  const labels = Int32Array.from({ length: n }, (_, i) => i % 10);
  return new InMemoryTrainSource(
    { images, labels, height: side, width: side, channels: 1, origin: "mem://test" },
    { seed },
  );
}

async function epochIndices(src: InMemoryTrainSource, epoch: number, batchSize: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < src.batchesPerEpoch(batchSize); i++) out.push(...(await src.batch(epoch, i, batchSize)).indices);
  return out;
}

describe("epoch orders", () => {
  it("windowed order is a permutation whose windows each hold exactly their shards' examples", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 4 }),
        fc.nat(),
        (counts, windowShards, seed) => {
          const { order, windows } = windowedEpochOrder(counts, seed, 3, windowShards);
          const starts = shardStarts(counts);
          expect(Array.from(order).sort((a, b) => a - b)).toEqual(
            Array.from({ length: starts[starts.length - 1] }, (_, i) => i),
          );
          for (const w of windows) {
            const shardsSeen = new Set(Array.from(order.subarray(w.start, w.end), (g) => shardOfExample(starts, g)));
            expect([...shardsSeen].sort()).toEqual([...w.shards].sort());
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("finds which shard holds an example", () => {
    const starts = shardStarts([3, 1, 4]);
    expect([0, 2, 3, 4, 7].map((i) => shardOfExample(starts, i))).toEqual([0, 0, 1, 2, 2]);
  });

  it("full permutation depends on seed and epoch only", () => {
    expect(Array.from(epochPermutation(50, 7, 2))).toEqual(Array.from(epochPermutation(50, 7, 2)));
    expect(Array.from(epochPermutation(50, 7, 2))).not.toEqual(Array.from(epochPermutation(50, 7, 3)));
    expect(Array.from(epochPermutation(50, 8, 2))).not.toEqual(Array.from(epochPermutation(50, 7, 2)));
  });
});

describe("InMemoryTrainSource", () => {
  it("visits every example at most once per epoch and drops only the last partial batch", async () => {
    const src = source(103, 1);
    expect(src.batchesPerEpoch(10)).toBe(10);
    const seen = await epochIndices(src, 0, 10);
    expect(seen).toHaveLength(100);
    expect(new Set(seen).size).toBe(100);
    expect(seen.every((i) => i >= 0 && i < 103)).toBe(true);
  });

  it("hands out the pixels and label of the index it reports", async () => {
    const src = source(40, 2);
    const b = await src.batch(1, 3, 4);
    for (let k = 0; k < 4; k++) {
      expect(b.images[k * 4]).toBe(b.indices[k] % 256);
      expect(b.labels[k]).toBe(b.indices[k] % 10);
    }
  });

  it("orders differ between epochs and match across two sources with the same seed, in any access order", async () => {
    const a = source(64, 5);
    const b = source(64, 5);
    const e0 = await epochIndices(a, 0, 8);
    expect(await epochIndices(a, 1, 8)).not.toEqual(e0);
    const backwards: number[][] = [];
    for (let i = 7; i >= 0; i--) backwards[i] = Array.from((await b.batch(0, i, 8)).indices);
    expect(backwards.flat()).toEqual(e0);
  });

  it("computes the per-channel mean and std of its images once", () => {
    const images = Uint8Array.from([0, 255, 0, 255]);
    const src = new InMemoryTrainSource(
      { images, labels: new Int32Array(4), height: 1, width: 1, channels: 1, origin: "m" },
      { seed: 0 },
    );
    expect(src.info.mean[0]).toBeCloseTo(0.5, 10);
    expect(src.info.std[0]).toBeCloseTo(0.5, 10);
  });

  it("refuses a batch past the end of the epoch, saying how many there are", async () => {
    await expect(source(30, 0).batch(0, 3, 10)).rejects.toThrow(
      /batch 3 is outside 0\.\.2: mem:\/\/test has 30 training examples/,
    );
  });
});
