// Fixed 2-D sin-cos position embeddings, computed as the official get_2d_sincos_pos_embed does (in float64, then float32).

/**
 * [gridH·gridW, dim] row-major; token (r, c) sits at row r·gridW + c. As in the official code the first
 * half of the width encodes the column (np.meshgrid puts w first) and the second half the row; each
 * half is [sin(pos·ω), cos(pos·ω)] with ω_i = 1 / 10000^(i / (dim/4)).
 */
export function sincosPosEmbed2d(dim: number, gridH: number, gridW = gridH): Float32Array {
  if (dim % 4 !== 0) throw new Error(`2-D sin-cos position embedding needs a width divisible by 4, got ${dim}`);
  const half = dim / 2;
  const quarter = dim / 4;
  const omega = new Float64Array(quarter);
  for (let i = 0; i < quarter; i++) omega[i] = 1 / 10000 ** (i / quarter);
  const out = new Float32Array(gridH * gridW * dim);
  for (let r = 0; r < gridH; r++) {
    for (let c = 0; c < gridW; c++) {
      const row = (r * gridW + c) * dim;
      for (let i = 0; i < quarter; i++) {
        out[row + i] = Math.sin(c * omega[i]);
        out[row + quarter + i] = Math.cos(c * omega[i]);
        out[row + half + i] = Math.sin(r * omega[i]);
        out[row + half + quarter + i] = Math.cos(r * omega[i]);
      }
    }
  }
  return out;
}
