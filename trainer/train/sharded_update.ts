// AdamW + EMA split over data-parallel replicas (ZeRO-1 style): a fixed share of the parameters per replica, in place
// in one shared WebAssembly memory that holds the weights, the moments and every replica's gradients.
import type { AdamWStepConstants } from "../optim/adamw_constants.js";
import { ADAMW_UPDATE_WASM_BASE64 } from "../optim/adamw_update_wasm.js";
import { instancePerMemory, type SharedWasmMemory, webAssembly } from "../kernels/webassembly_api.js";

/** One trainable parameter in the shared flat buffers (offsets in float32 elements). */
export interface UpdateSegment {
  /** Start in the weights, moments and gradient buffers (they share the trainable part's offsets). */
  offset: number;
  size: number;
  decay: boolean;
  /** Start of its EMA copy (the target encoder's) in the weights buffer; -1 when it has none (the predictor). */
  target: number;
}

/** Where each buffer starts in the shared memory, in bytes (16-byte aligned), and the memory's size. */
export interface SharedUpdateLayout {
  weights: number;
  expAvg: number;
  expAvgSq: number;
  /** Replica r's gradients; the mean is summed in this order. */
  grads: number[];
  bytes: number;
}

/** Float32Array views of the shared memory's buffers. */
export interface SharedUpdateBuffers {
  /** [trainable, in the optimiser's order | target encoder]. */
  weights: Float32Array;
  expAvg: Float32Array;
  expAvgSq: Float32Array;
  grads: Float32Array[];
}

/** The layout for `weightCount` weights (trainable first) with `trainableCount` trainable ones, over `replicas`. */
export function sharedUpdateLayout(weightCount: number, trainableCount: number, replicas: number): SharedUpdateLayout {
  let at = 0;
  const take = (floats: number) => {
    const start = at;
    at += Math.ceil((floats * 4) / 16) * 16;
    return start;
  };
  const weights = take(weightCount);
  const expAvg = take(trainableCount);
  const expAvgSq = take(trainableCount);
  const grads = Array.from({ length: replicas }, () => take(trainableCount));
  return { weights, expAvg, expAvgSq, grads, bytes: at };
}

/** A shared memory large enough for `layout` (it never grows). */
export function createSharedMemory(layout: SharedUpdateLayout): SharedWasmMemory {
  const pages = Math.max(1, Math.ceil(layout.bytes / 65536));
  return new webAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}

export function sharedBuffers(
  memory: SharedWasmMemory,
  layout: SharedUpdateLayout,
  weightCount: number,
  trainableCount: number,
): SharedUpdateBuffers {
  const view = (byteOffset: number, floats: number) => new Float32Array(memory.buffer, byteOffset, floats);
  return {
    weights: view(layout.weights, weightCount),
    expAvg: view(layout.expAvg, trainableCount),
    expAvgSq: view(layout.expAvgSq, trainableCount),
    grads: layout.grads.map((g) => view(g, trainableCount)),
  };
}

/**
 * The main thread's weight in the split of the update: it also prepares the next batch while the workers finish
 * their shares, so it takes half a share.
 */
export const MAIN_THREAD_SHARE = 0.5;

/**
 * Splits the segments into contiguous shares, one per weight, each of about `weights[k] / Σ weights` of the work (an
 * EMA'd parameter counts 1.25×): the boundaries, weights.length + 1 segment indices from 0 to segments.length. A pure
 * function of the layout and the weights (fixed per replica count), so every replica agrees without talking, and the
 * result does not depend on timings. Any split gives the same bits: each element's update reads only that element.
 */
export function shareBounds(segments: readonly UpdateSegment[], weights: readonly number[]): number[] {
  const cost = (s: UpdateSegment) => s.size * (s.target >= 0 ? 1.25 : 1);
  const n = segments.length;
  const prefix = [0];
  for (const s of segments) prefix.push(prefix[prefix.length - 1] + cost(s));
  const totalWeight = weights.reduce((a, w) => a + w, 0);
  const bounds = [0];
  let weightBefore = 0;
  for (let k = 1; k < weights.length; k++) {
    weightBefore += weights[k - 1];
    const ideal = (prefix[n] * weightBefore) / totalWeight;
    let i = bounds[k - 1];
    while (i < n && prefix[i + 1] <= ideal) i++;
    // prefix[i] ≤ ideal < prefix[i + 1]: end the share at whichever of the two lies nearer.
    if (i < n && prefix[i + 1] - ideal < ideal - prefix[i]) i++;
    bounds.push(i);
  }
  bounds.push(n);
  return bounds;
}

type Ptr = number;
interface UpdateExports {
  add(out: Ptr, a: Ptr, b: Ptr, n: number): void;
  div(x: Ptr, n: number, k: number): void;
  adamw(
    p: Ptr,
    m: Ptr,
    v: Ptr,
    g: Ptr,
    n: number,
    decay: number,
    c1: number,
    beta2: number,
    c2: number,
    bias2: number,
    eps: number,
    step: number,
  ): void;
  ema(t: Ptr, s: Ptr, n: number, keep: number, take: number): void;
}

const instantiateUpdate = instancePerMemory<UpdateExports>(() => ADAMW_UPDATE_WASM_BASE64);

/**
 * optim/adamw_update.wat on a shared memory: AdamW.apply's and IJepa.updateTarget's tfjs ops fused, 4 lanes at a time,
 * with the same float32 operations in the same order (so the same bits; test/train/sharded_update.test.ts compares).
 */
export class SharedUpdateKernel {
  private readonly fns: UpdateExports;

  constructor(
    memory: SharedWasmMemory,
    private readonly layout: SharedUpdateLayout,
  ) {
    this.fns = instantiateUpdate(memory);
  }

  /**
   * Segments [from, to): the replicas' gradients averaged in replica order (into replica 0's buffer, which the next
   * step overwrites), AdamW, then the EMA of those that have a target copy.
   */
  applyShare(
    segments: readonly UpdateSegment[],
    from: number,
    to: number,
    c: AdamWStepConstants,
    momentum: number,
  ): void {
    const { fns, layout } = this;
    const f = Math.fround;
    const replicas = layout.grads.length;
    const keep = f(momentum);
    const take = f(1 - momentum);
    for (let k = from; k < to; k++) {
      const { offset, size, decay, target } = segments[k];
      const at = offset * 4;
      const g = layout.grads[0] + at;
      for (let r = 1; r < replicas; r++) fns.add(g, g, layout.grads[r] + at, size);
      if (replicas > 1) fns.div(g, size, f(replicas));
      // Multiplying by 1 leaves every float32 as it is: the same bits as skipping the decay.
      const scale = decay && c.decayScale !== undefined ? c.decayScale : 1;
      const p = layout.weights + at;
      fns.adamw(
        p,
        layout.expAvg + at,
        layout.expAvgSq + at,
        g,
        size,
        scale,
        c.oneMinusBeta1,
        c.beta2,
        c.oneMinusBeta2,
        c.bias2Sqrt,
        c.eps,
        c.stepSize,
      );
      if (target >= 0) fns.ema(layout.weights + target * 4, p, size, keep, take);
    }
  }
}
