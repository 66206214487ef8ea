// Training-time image transforms: torchvision's RandomResizedCrop (+ optional horizontal flip), ToTensor and Normalize.
import { Rng } from "./utils/rng.js";

export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/**
 * torchvision RandomResizedCrop.get_params: up to 10 tries of a random area (scale) and log-uniform
 * aspect ratio (ratio) that fits; otherwise a centre crop with the ratio clamped to the range.
 */
export function randomResizedCropBox(
  rng: Rng,
  height: number,
  width: number,
  scale: [number, number],
  ratio: [number, number],
): CropBox {
  const area = height * width;
  const logRatio = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * (scale[0] + rng.float() * (scale[1] - scale[0]));
    const aspect = Math.exp(logRatio[0] + rng.float() * (logRatio[1] - logRatio[0]));
    const w = pythonRound(Math.sqrt(targetArea * aspect));
    const h = pythonRound(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      return { top: rng.int(0, height - h + 1), left: rng.int(0, width - w + 1), height: h, width: w };
    }
  }
  const inRatio = width / height;
  let w: number;
  let h: number;
  if (inRatio < Math.min(...ratio)) {
    w = width;
    h = pythonRound(w / Math.min(...ratio));
  } else if (inRatio > Math.max(...ratio)) {
    h = height;
    w = pythonRound(h * Math.max(...ratio));
  } else {
    w = width;
    h = height;
  }
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
}

/**
 * Python 3's round(), which get_params's int(round(x)) uses: a half goes to the even neighbour (2.5 → 2,
 * 3.5 → 4), where Math.round would go up; a crop side of exactly n + ½ then matches torchvision's.
 */
function pythonRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Resamples a crop of a uint8 HWC image to out×out floats in [0, 1] with a triangle (bilinear) filter
 * whose support widens when shrinking — PIL's antialiased BILINEAR resize, which torchvision uses for PIL images.
 */
export function resizeCrop(
  src: Uint8Array,
  srcWidth: number,
  channels: number,
  box: CropBox,
  out: number,
  dst: Float32Array,
  dstOffset: number,
): void {
  const xWeights = filterWeights(box.left, box.width, out);
  const yWeights = filterWeights(box.top, box.height, out);
  // Horizontal pass into a [box.height, out, C] buffer, then vertical.
  const tmp = new Float32Array(box.height * out * channels);
  for (let y = 0; y < box.height; y++) {
    const rowBase = (box.top + y) * srcWidth;
    for (let x = 0; x < out; x++) {
      const { first, weights } = xWeights[x];
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let k = 0; k < weights.length; k++) acc += weights[k] * src[(rowBase + first + k) * channels + c];
        tmp[(y * out + x) * channels + c] = acc;
      }
    }
  }
  for (let y = 0; y < out; y++) {
    const { first, weights } = yWeights[y];
    for (let x = 0; x < out; x++) {
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let k = 0; k < weights.length; k++)
          acc += weights[k] * tmp[((first - box.top + k) * out + x) * channels + c];
        dst[dstOffset + (y * out + x) * channels + c] = Math.min(255, Math.max(0, acc)) / 255;
      }
    }
  }
}

interface Taps {
  first: number;
  weights: Float64Array;
}

/** Per output pixel, the source pixels (absolute index of the first) and normalised triangle-filter weights. */
function filterWeights(start: number, length: number, out: number): Taps[] {
  const scale = length / out;
  const support = Math.max(1, scale); // triangle radius in source pixels
  const taps: Taps[] = [];
  for (let i = 0; i < out; i++) {
    const center = (i + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - support));
    const hi = Math.min(length, Math.ceil(center + support));
    const weights = new Float64Array(hi - lo);
    let total = 0;
    for (let j = lo; j < hi; j++) {
      const w = Math.max(0, 1 - Math.abs((j + 0.5 - center) / support));
      weights[j - lo] = w;
      total += w;
    }
    if (total === 0) {
      // Degenerate (a crop of one pixel): take the nearest.
      weights.fill(0);
      weights[Math.min(weights.length - 1, Math.max(0, Math.floor(center) - lo))] = 1;
      total = 1;
    }
    for (let j = 0; j < weights.length; j++) weights[j] /= total;
    taps.push({ first: start + lo, weights });
  }
  return taps;
}

export interface AugmentSettings {
  cropSize: number;
  scale: [number, number];
  ratio: [number, number];
  horizontalFlip: boolean;
  mean: number[];
  std: number[];
}

/**
 * A batch of uint8 NHWC images → normalised float32 NHWC crops, deterministic from (seed, step): the
 * same batch of the same run always gets the same crops, so a resumed run sees what an uninterrupted one did.
 */
export function augmentBatch(
  images: Uint8Array,
  count: number,
  height: number,
  width: number,
  channels: number,
  s: AugmentSettings,
  seed: number,
  step: number,
): Float32Array {
  const rng = Rng.fromSeed(seed, `augment/${step}`);
  const out = new Float32Array(count * s.cropSize * s.cropSize * channels);
  const imageBytes = height * width * channels;
  const outSize = s.cropSize * s.cropSize * channels;
  for (let i = 0; i < count; i++) {
    const box = randomResizedCropBox(rng, height, width, s.scale, s.ratio);
    const src = images.subarray(i * imageBytes, (i + 1) * imageBytes);
    resizeCrop(src, width, channels, box, s.cropSize, out, i * outSize);
    if (s.horizontalFlip && rng.float() < 0.5) flipHorizontal(out, i * outSize, s.cropSize, channels);
  }
  normalize(out, channels, s.mean, s.std);
  return out;
}

/** The whole image resized to out×out (no randomness): for evaluation and collapse metrics. */
export function resizeBatch(
  images: Uint8Array,
  count: number,
  height: number,
  width: number,
  channels: number,
  out: number,
  mean: number[],
  std: number[],
): Float32Array {
  const dst = new Float32Array(count * out * out * channels);
  const imageBytes = height * width * channels;
  for (let i = 0; i < count; i++) {
    resizeCrop(
      images.subarray(i * imageBytes, (i + 1) * imageBytes),
      width,
      channels,
      { top: 0, left: 0, height, width },
      out,
      dst,
      i * out * out * channels,
    );
  }
  normalize(dst, channels, mean, std);
  return dst;
}

function flipHorizontal(buf: Float32Array, offset: number, size: number, channels: number): void {
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size >> 1; x++) {
      for (let c = 0; c < channels; c++) {
        const a = offset + (y * size + x) * channels + c;
        const b = offset + (y * size + (size - 1 - x)) * channels + c;
        const t = buf[a];
        buf[a] = buf[b];
        buf[b] = t;
      }
    }
  }
}

function normalize(buf: Float32Array, channels: number, mean: number[], std: number[]): void {
  for (let i = 0; i < buf.length; i++) {
    const c = i % channels;
    buf[i] = (buf[i] - mean[c]) / std[c];
  }
}
