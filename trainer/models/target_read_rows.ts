// The rows of the target encoder's output that the loss reads: per image, the union of its target patches.

/** Query rows for VisionTransformer.forwardAtRows, and where each target row lands among them. */
export interface TargetReadRows {
  /** Rows read per image: the largest union of target patches over the batch's images. */
  perImage: number;
  /** [B·perImage] flat rows of [B·N]: image b's union in grid order, padded by repeating its first row. */
  rows: Int32Array;
  /** For every entry of `targetRows`, its position in `rows` (so gathering these reproduces the target rows). */
  positions: Int32Array;
}

/**
 * targetRows: flat rows b·N + patch of the [B·N] token matrix (StepIndices.targetRows, any order, repeats
 * allowed).
 */
export function targetReadRows(targetRows: Int32Array, batch: number, numPatches: number): TargetReadRows {
  const read = new Uint8Array(batch * numPatches);
  for (const r of targetRows) read[r] = 1;
  const counts = new Int32Array(batch);
  for (let b = 0; b < batch; b++) for (let p = 0; p < numPatches; p++) counts[b] += read[b * numPatches + p];
  const perImage = Math.max(1, ...counts);
  const rows = new Int32Array(batch * perImage);
  // slot[b·N + p]: the position of row b·N + p in `rows`.
  const slot = new Int32Array(batch * numPatches).fill(-1);
  for (let b = 0; b < batch; b++) {
    let k = 0;
    for (let p = 0; p < numPatches; p++) {
      if (read[b * numPatches + p] === 0) continue;
      slot[b * numPatches + p] = b * perImage + k;
      rows[b * perImage + k++] = b * numPatches + p;
    }
    // Padding repeats one of the image's rows (one that is read, if any): computed twice, never gathered.
    const pad = k > 0 ? rows[b * perImage] : b * numPatches;
    for (; k < perImage; k++) rows[b * perImage + k] = pad;
  }
  const positions = Int32Array.from(targetRows, (r) => slot[r]);
  return { perImage, rows, positions };
}
