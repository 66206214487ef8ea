// AdamW + EMA split over data-parallel replicas (ZeRO-1 style): a fixed share of the parameters per replica, in place.
import { type AdamWStepConstants, adamWUpdate, emaUpdate } from "../optim/fused_update.js";

/** One trainable parameter in the shared flat buffers. */
export interface UpdateSegment {
  /** Start in the weights, moments and gradient buffers (they share the trainable part's offsets). */
  offset: number;
  size: number;
  decay: boolean;
  /** Start of its EMA copy (the target encoder's) in the weights buffer; -1 when it has none (the predictor). */
  target: number;
}

/** The memory every replica reads and writes: weights [trainable | target encoder], moments, each replica's grads. */
export interface SharedUpdateBuffers {
  weights: Float32Array;
  expAvg: Float32Array;
  expAvgSq: Float32Array;
  /** Replica r's gradients (sums of its slice's mean), in replica order: the mean is summed in this order. */
  grads: Float32Array[];
}

/**
 * Splits the segments into `parts` contiguous shares of about equal work (an EMA'd parameter counts 1.25×): the
 * boundaries, parts + 1 segment indices from 0 to segments.length. A pure function of the layout and the replica count,
 * so every replica agrees without talking, and the result does not depend on timings. Any split gives the same bits:
 * each element's update reads only that element.
 */
export function shareBounds(segments: readonly UpdateSegment[], parts: number): number[] {
  const cost = (s: UpdateSegment) => s.size * (s.target >= 0 ? 1.25 : 1);
  const n = segments.length;
  const prefix = [0];
  for (const s of segments) prefix.push(prefix[prefix.length - 1] + cost(s));
  const bounds = [0];
  for (let k = 1; k < parts; k++) {
    const ideal = (prefix[n] * k) / parts;
    let i = bounds[k - 1];
    while (i < n && prefix[i + 1] <= ideal) i++;
    // prefix[i] ≤ ideal < prefix[i + 1]: end the share at whichever of the two lies nearer.
    if (i < n && prefix[i + 1] - ideal < ideal - prefix[i]) i++;
    bounds.push(i);
  }
  bounds.push(n);
  return bounds;
}

/** Averages the replicas' gradients, applies AdamW and then the EMA to segments [from, to), in place. */
export function applyShare(
  buffers: SharedUpdateBuffers,
  segments: readonly UpdateSegment[],
  from: number,
  to: number,
  constants: AdamWStepConstants,
  momentum: number,
): void {
  const { weights, expAvg, expAvgSq, grads } = buffers;
  for (let k = from; k < to; k++) {
    const { offset, size, decay, target } = segments[k];
    const end = offset + size;
    const p = weights.subarray(offset, end);
    adamWUpdate(
      p,
      expAvg.subarray(offset, end),
      expAvgSq.subarray(offset, end),
      grads.map((g) => g.subarray(offset, end)),
      decay,
      constants,
    );
    if (target >= 0) emaUpdate(weights.subarray(target, target + size), p, momentum);
  }
}
