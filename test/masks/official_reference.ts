// Test oracle: a deliberately literal port of the official MaskCollator (dense 0/1 grids, region products, nonzero), drawing from our Rng streams.
import { Rng } from "../../trainer/utils/rng.js";

export interface ReferenceSettings {
  gridHeight: number;
  gridWidth: number;
  encMaskScale: readonly [number, number];
  predMaskScale: readonly [number, number];
  aspectRatio: readonly [number, number];
  nenc: number;
  npred: number;
  minKeep: number;
  allowOverlap: boolean;
  uniformCorners: boolean;
}

export interface ReferenceMasks {
  context: number[][];
  target: number[][];
  contextKeep: number;
  targetKeep: number;
  targetBlock: [number, number];
  contextBlock: [number, number];
}

// Python's round() written differently from the trainer's: Math.round sends halves up, so pull odd results of exact halves back.
function pythonRound(x: number): number {
  const up = Math.round(x);
  return x - Math.floor(x) === 0.5 && up % 2 !== 0 ? up - 1 : up;
}

/** _sample_block_size */
function sampleBlockSize(
  g: Rng,
  s: ReferenceSettings,
  scale: readonly [number, number],
  aspect: readonly [number, number],
): [number, number] {
  const rand = g.float();
  const maskScale = scale[0] + rand * (scale[1] - scale[0]);
  const maxKeep = Math.floor(s.gridHeight * s.gridWidth * maskScale);
  const ar = aspect[0] + rand * (aspect[1] - aspect[0]);
  let h = pythonRound(Math.sqrt(maxKeep * ar));
  let w = pythonRound(Math.sqrt(maxKeep / ar));
  while (h >= s.gridHeight) h -= 1;
  while (w >= s.gridWidth) w -= 1;
  return [h, w];
}

/** _sample_block_mask: returns (nonzero indices, complement of the unconstrained block). */
function sampleBlockMask(
  g: Rng,
  s: ReferenceSettings,
  [h, w]: [number, number],
  acceptable: Int32Array[] | null,
): [number[], Int32Array] {
  const H = s.gridHeight;
  const W = s.gridWidth;
  const extra = s.uniformCorners ? 1 : 0;
  let tries = 0;
  let timeout = 20;
  let top = 0;
  let left = 0;
  let kept: number[] = [];
  let valid = false;
  while (!valid) {
    top = g.int(0, H - h + extra);
    left = g.int(0, W - w + extra);
    const mask = new Int32Array(H * W);
    for (let r = top; r < top + h; r++) for (let c = left; c < left + w; c++) mask[r * W + c] = 1;
    if (acceptable !== null) {
      const n = Math.max(acceptable.length - tries, 0);
      for (let k = 0; k < n; k++) for (let i = 0; i < mask.length; i++) mask[i] *= acceptable[k][i];
    }
    kept = [];
    mask.forEach((v, i) => {
      if (v !== 0) kept.push(i);
    });
    valid = kept.length > s.minKeep;
    if (!valid) {
      timeout -= 1;
      if (timeout === 0) {
        tries += 1;
        timeout = 20;
      }
    }
  }
  const complement = new Int32Array(H * W).fill(1);
  for (let r = top; r < top + h; r++) for (let c = left; c < left + w; c++) complement[r * W + c] = 0;
  return [kept, complement];
}

/** __call__ for a batch of `batchSize`, with sizes from "mask-size/<step>" and positions from "mask-position/<step>". */
export function referenceMasks(s: ReferenceSettings, batchSize: number, seed: number, step: number): ReferenceMasks {
  const g = Rng.fromSeed(seed, `mask-size/${step}`);
  const pSize = sampleBlockSize(g, s, s.predMaskScale, s.aspectRatio);
  const eSize = sampleBlockSize(g, s, s.encMaskScale, [1, 1]);
  const positions = Rng.fromSeed(seed, `mask-position/${step}`);
  const pred: number[][][] = [];
  const enc: number[][][] = [];
  let minKeepPred = s.gridHeight * s.gridWidth;
  let minKeepEnc = s.gridHeight * s.gridWidth;
  for (let b = 0; b < batchSize; b++) {
    const masksP: number[][] = [];
    const masksC: Int32Array[] = [];
    for (let k = 0; k < s.npred; k++) {
      const [mask, complement] = sampleBlockMask(positions, s, pSize, null);
      masksP.push(mask);
      masksC.push(complement);
      minKeepPred = Math.min(minKeepPred, mask.length);
    }
    pred.push(masksP);
    const acceptable = s.allowOverlap ? null : masksC;
    const masksE: number[][] = [];
    for (let m = 0; m < s.nenc; m++) {
      const [mask] = sampleBlockMask(positions, s, eSize, acceptable);
      masksE.push(mask);
      minKeepEnc = Math.min(minKeepEnc, mask.length);
    }
    enc.push(masksE);
  }
  // default_collate of [B][masks] → [masks][B*K]
  const collate = (perImage: number[][][], count: number, keep: number): number[][] =>
    Array.from({ length: count }, (_, m) => perImage.flatMap((masks) => masks[m].slice(0, keep)));
  return {
    context: collate(enc, s.nenc, minKeepEnc),
    target: collate(pred, s.npred, minKeepPred),
    contextKeep: minKeepEnc,
    targetKeep: minKeepPred,
    targetBlock: pSize,
    contextBlock: eSize,
  };
}
