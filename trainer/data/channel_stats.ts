// Per-channel pixel sums that merge across shards, and the mean/std (in [0, 1] units) they give.

/**
 * Sums in raw uint8 units. Integers stay exact in doubles up to 2^53: sumSquares grows by at most
 * 65025 per pixel, so ~1.3e11 pixels per channel (hundreds of ImageNets) before rounding starts.
 */
export interface PixelSums {
  /** Pixels per channel that were summed. */
  pixelCount: number;
  sum: number[];
  sumSquares: number[];
}

export function emptyPixelSums(channels: number): PixelSums {
  return { pixelCount: 0, sum: new Array(channels).fill(0), sumSquares: new Array(channels).fill(0) };
}

/** Adds interleaved (…HWC) uint8 pixels to `into`. */
export function addPixels(into: PixelSums, pixels: Uint8Array, channels: number): PixelSums {
  // Per-channel histograms keep the inner loop to an increment; sums are taken once at the end.
  const histograms = Array.from({ length: channels }, () => new Float64Array(256));
  for (let c = 0; c < channels; c++) {
    const h = histograms[c];
    for (let i = c; i < pixels.length; i += channels) h[pixels[i]]++;
  }
  into.pixelCount += pixels.length / channels;
  for (let c = 0; c < channels; c++) {
    const h = histograms[c];
    for (let v = 1; v < 256; v++) {
      into.sum[c] += v * h[v];
      into.sumSquares[c] += v * v * h[v];
    }
  }
  return into;
}

export function mergePixelSums(parts: readonly PixelSums[], channels: number): PixelSums {
  const total = emptyPixelSums(channels);
  for (const p of parts) {
    total.pixelCount += p.pixelCount;
    for (let c = 0; c < channels; c++) {
      total.sum[c] += p.sum[c];
      total.sumSquares[c] += p.sumSquares[c];
    }
  }
  return total;
}

/** Population mean and standard deviation per channel, pixels scaled to [0, 1]. */
export function meanStd(sums: PixelSums): { mean: number[]; std: number[] } {
  const n = sums.pixelCount;
  if (n === 0) throw new Error("meanStd: no pixels were summed");
  const mean = sums.sum.map((s) => s / n / 255);
  const std = sums.sumSquares.map((sq, c) => Math.sqrt(Math.max(0, sq / n / (255 * 255) - mean[c] * mean[c])));
  return { mean, std };
}
