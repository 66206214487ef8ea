import { describe, expect, it } from "vitest";
import { targetReadRows } from "../../trainer/models/target_read_rows.js";

describe("target read rows", () => {
  it("keeps each image's union of target patches once, padded to the largest, and maps every target row to it", () => {
    // 2 images of 6 patches; targets (two masks of 2 patches each, mask-major) overlap in image 0 at patch 4.
    const N = 6;
    const targetRows = Int32Array.from([4, 1, N + 0, N + 5, 4, 2, N + 3, N + 0]);
    const read = targetReadRows(targetRows, 2, N);
    expect(read.perImage).toBe(3);
    // Image 0 reads {1, 2, 4}; image 1 reads {0, 3, 5}.
    expect(Array.from(read.rows)).toEqual([1, 2, 4, N + 0, N + 3, N + 5]);
    for (const [i, r] of targetRows.entries()) expect(read.rows[read.positions[i]]).toBe(r);
  });

  it("pads an image with fewer read rows by repeating one of its own", () => {
    const read = targetReadRows(Int32Array.from([0, 1, 2, 5]), 2, 4);
    expect(read.perImage).toBe(3);
    expect(Array.from(read.rows)).toEqual([0, 1, 2, 5, 5, 5]);
    expect(Array.from(read.positions)).toEqual([0, 1, 2, 3]);
  });
});
