// Row indices that reproduce the official apply_masks / repeat_interleave_batch as a single gather on a flattened token matrix.
import { DataError } from "../errors.js";

/**
 * Official `apply_masks(x, masks)` as indices: x is [B, N, D] flattened to a [B*N, D] matrix, each mask is
 * [B, K] row-major (BatchMasks.context / .target). Returns, for every mask in order and every image b in order,
 * the rows b*N + mask[b, j]; gathering them and reshaping to [masks.length * B, K, D] gives exactly
 * torch.cat([gather(x, 1, m) for m in masks], dim=0).
 */
export function gatherRowsIndex(masks: readonly Int32Array[], batchSize: number, numPatches: number): Int32Array {
  const keep = maskWidth(masks, batchSize);
  const rows = new Int32Array(masks.length * batchSize * keep);
  let out = 0;
  for (let m = 0; m < masks.length; m++) {
    const mask = masks[m];
    for (let b = 0; b < batchSize; b++) {
      for (let j = 0; j < keep; j++) {
        const patch = mask[b * keep + j];
        if (!(patch >= 0 && patch < numPatches)) {
          throw new DataError(
            `mask ${m} holds patch index ${patch} for image ${b}, outside [0, ${numPatches})`,
            "sample masks on the same patch grid as the encoder (data.crop_size / mask.patch_size)",
          );
        }
        rows[out++] = b * numPatches + patch;
      }
    }
  }
  return rows;
}

/**
 * The patch index of every row `gatherRowsIndex` selects, in the same order: gathering these from a shared
 * [N, D] table (the positional embedding) equals apply_masks(pos_embed.repeat(B, 1, 1), masks).
 */
export function maskedPatchIndex(masks: readonly Int32Array[], batchSize: number): Int32Array {
  const keep = maskWidth(masks, batchSize);
  const patches = new Int32Array(masks.length * batchSize * keep);
  for (const [m, mask] of masks.entries()) patches.set(mask, m * batchSize * keep);
  return patches;
}

/**
 * Official `repeat_interleave_batch(x, B, repeat)` as source row indices: x has numRows = N*B rows in N chunks of B;
 * each chunk is repeated `repeat` times in place (chunk 0 ×repeat, chunk 1 ×repeat, ...). This lines target
 * features (one chunk per target mask) up with predictor outputs (one chunk per target per context mask).
 */
export function repeatInterleaveBatch(numRows: number, batchSize: number, repeat: number): Int32Array {
  checkCounts(numRows, batchSize, repeat);
  if (numRows % batchSize !== 0) {
    // The official silently drops the remainder; here it can only mean mismatched shapes.
    throw new DataError(
      `repeatInterleaveBatch: ${numRows} rows are not whole chunks of batchSize ${batchSize}`,
      "pass the row count of a tensor built from whole batches (masks × batchSize)",
    );
  }
  const chunks = numRows / batchSize;
  const rows = new Int32Array(chunks * repeat * batchSize);
  let out = 0;
  for (let chunk = 0; chunk < chunks; chunk++) {
    for (let r = 0; r < repeat; r++) {
      for (let b = 0; b < batchSize; b++) rows[out++] = chunk * batchSize + b;
    }
  }
  return rows;
}

/** `x.repeat(repeat, 1, 1)` on the first dimension as source row indices: the whole of x, `repeat` times over. */
export function repeatBatch(numRows: number, repeat: number): Int32Array {
  checkCounts(numRows, 1, repeat);
  const rows = new Int32Array(numRows * repeat);
  for (let r = 0; r < repeat; r++) {
    for (let i = 0; i < numRows; i++) rows[r * numRows + i] = i;
  }
  return rows;
}

/** K of a list of [B, K] masks; they must share it, as torch.cat requires. */
function maskWidth(masks: readonly Int32Array[], batchSize: number): number {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  if (masks.length === 0) return 0;
  const keep = masks[0].length / batchSize;
  masks.forEach((mask, m) => {
    if (mask.length !== keep * batchSize || !Number.isInteger(keep)) {
      throw new DataError(
        `mask ${m} has ${mask.length} indices, expected batchSize ${batchSize} × ${keep} (the width of mask 0)`,
        "pass masks from one BatchMasks group (context or target): they are cut to a common length",
      );
    }
  });
  return keep;
}

function checkCounts(numRows: number, batchSize: number, repeat: number): void {
  for (const [name, value, lowest] of [
    ["numRows", numRows, 0],
    ["batchSize", batchSize, 1],
    ["repeat", repeat, 0],
  ] as const) {
    if (!Number.isInteger(value) || value < lowest)
      throw new RangeError(`${name} must be an integer ≥ ${lowest}, got ${value}`);
  }
}
