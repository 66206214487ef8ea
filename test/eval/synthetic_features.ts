// Synthetic labelled feature sets with a known answer, for the probe tests.
import type { LabelledFeatures } from "../../trainer/eval/labelled_features.js";
import { Rng } from "../../trainer/utils/rng.js";

/** Row-major features plus labels, with their shape. */
export interface SyntheticSet extends LabelledFeatures {
  dim: number;
  numClasses: number;
}

/**
 * Gaussian blobs: class c has mean μ_c (entries N(0, separation²)) and unit-variance noise. With
 * separation 1.5 in 32 dimensions the means are ~12 noise-σ apart: linearly separable in practice.
 * The means depend only on `seed`, so train and test sets drawn with different `split`s share them.
 */
export function gaussianBlobs(options: {
  numClasses: number;
  dim: number;
  perClass: number;
  separation: number;
  seed: number;
  split: string;
}): SyntheticSet {
  const { numClasses, dim, perClass, separation, seed, split } = options;
  const meanRng = Rng.fromSeed(seed, "blob-means");
  const means = Float64Array.from({ length: numClasses * dim }, () => meanRng.normal() * separation);
  const rng = Rng.fromSeed(seed, `blob-points/${split}`);
  const rows = numClasses * perClass;
  const features = new Float32Array(rows * dim);
  const labels = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const c = i % numClasses;
    labels[i] = c;
    for (let j = 0; j < dim; j++) features[i * dim + j] = means[c * dim + j] + rng.normal();
  }
  return { features, labels, dim, numClasses };
}

/**
 * Concentric rings in the plane, one per class, with a constant third feature 1: (r cos φ, r sin φ, 1).
 * The class is the radius alone and the layout is rotation-symmetric, so no linear function of
 * (x, y) beats chance; after L2 normalisation the radius becomes the angle to the third axis, so
 * cosine-similarity neighbours are on the same ring.
 */
export function concentricRings(options: {
  numClasses: number;
  perClass: number;
  seed: number;
  split: string;
}): SyntheticSet {
  const { numClasses, perClass, seed, split } = options;
  const rng = Rng.fromSeed(seed, `rings/${split}`);
  const rows = numClasses * perClass;
  const features = new Float32Array(rows * 3);
  const labels = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const c = i % numClasses;
    // Ring c sits at polar angle 15° + 20°·c from the constant axis, ±2° of jitter.
    const polarDegrees = 15 + 20 * c + (rng.float() * 4 - 2);
    const radius = Math.tan((polarDegrees * Math.PI) / 180);
    const azimuth = rng.float() * 2 * Math.PI;
    features.set([radius * Math.cos(azimuth), radius * Math.sin(azimuth), 1], i * 3);
    labels[i] = c;
  }
  return { features, labels, dim: 3, numClasses };
}
