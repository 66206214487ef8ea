// AdamW with the official I-JEPA parameter groups (no weight decay on biases and 1-D parameters), PyTorch's update rule.
import * as tf from "@tensorflow/tfjs-core";
import { type AdamWStepConstants, adamWStepConstants, adamWUpdate } from "./fused_update.js";
import {
  type ParamSpec,
  type ParamTable,
  type StateTensor,
  fromOfficialLayout,
  isDecayed,
  officialShape,
  toOfficialLayout,
} from "../models/param_table.js";

interface Slot {
  /** State-dict name, e.g. "encoder.blocks.0.attn.qkv.weight". */
  name: string;
  spec: ParamSpec;
  param: tf.Variable;
  decay: boolean;
  /** Where this parameter's elements start in the flat moment buffers. */
  offset: number;
  expAvg: Float32Array;
  expAvgSq: Float32Array;
}

/** The moments of every parameter, flat in the optimiser's order (replicas update them in place, see moveMoments). */
export interface AdamWFlatState {
  expAvg: Float32Array;
  expAvgSq: Float32Array;
  /** Per parameter, in order: its variable's name, its offset in the flat buffers, its size, its group. */
  params: Array<{ variable: string; offset: number; size: number; decay: boolean }>;
}

export interface AdamWSettings {
  betas: [number, number];
  eps: number;
}

/**
 * torch.optim.AdamW (single-tensor path): p ← p·(1 − lr·wd); m ← lerp(m, g, 1 − β1); v ← β2·v + (1 − β2)·g²;
 * p ← p − (lr / (1 − β1ᵗ)) · m / (sqrt(v) / sqrt(1 − β2ᵗ) + eps). float32 throughout, one fused pass per
 * parameter (optim/fused_update.ts). The moments live in two flat arrays, which data-parallel replicas move into the
 * memory they share to update each their own share of the parameters in place (train/sharded_update.ts).
 */
export class AdamW {
  private readonly slots: Slot[] = [];
  private flat: AdamWFlatState;
  /** Number of updates applied so far (PyTorch's per-parameter `step`, identical for all of ours). */
  stepCount = 0;

  constructor(
    tables: Array<{ prefix: string; table: ParamTable }>,
    readonly settings: AdamWSettings,
  ) {
    const chosen: Array<{ name: string; spec: ParamSpec; param: tf.Variable; offset: number }> = [];
    let total = 0;
    for (const { prefix, table } of tables) {
      for (const spec of table.specs) {
        if (!spec.trainable) continue;
        const param = table.get(spec.name);
        chosen.push({ name: prefix + spec.name, spec, param, offset: total });
        total += param.size;
      }
    }
    const expAvg = new Float32Array(total);
    const expAvgSq = new Float32Array(total);
    for (const c of chosen) {
      const range = [c.offset, c.offset + c.param.size] as const;
      this.slots.push({
        ...c,
        decay: isDecayed(c.spec),
        expAvg: expAvg.subarray(...range),
        expAvgSq: expAvgSq.subarray(...range),
      });
    }
    this.flat = {
      expAvg,
      expAvgSq,
      params: this.slots.map((s) => ({ variable: s.param.name, offset: s.offset, size: s.param.size, decay: s.decay })),
    };
  }

  /** The flat moment buffers and where each parameter sits in them (for replicas that update in place). */
  flatState(): AdamWFlatState {
    return this.flat;
  }

  /**
   * Moves the moments into `expAvg` and `expAvgSq` (flat, this optimiser's order and size), which from then on hold
   * them: for data-parallel replicas, which update them in place in memory all of them share.
   */
  moveMoments(expAvg: Float32Array, expAvgSq: Float32Array): void {
    if (expAvg.length !== this.flat.expAvg.length || expAvgSq.length !== this.flat.expAvgSq.length)
      throw new Error(`AdamW.moveMoments: ${this.flat.expAvg.length} floats expected`);
    expAvg.set(this.flat.expAvg);
    expAvgSq.set(this.flat.expAvgSq);
    for (const s of this.slots) {
      s.expAvg = expAvg.subarray(s.offset, s.offset + s.param.size);
      s.expAvgSq = expAvgSq.subarray(s.offset, s.offset + s.param.size);
    }
    this.flat = { ...this.flat, expAvg, expAvgSq };
  }

  /**
   * Counts one more update and returns its float32 scalars: for callers that apply it themselves, in shares, with
   * `adamWUpdate` on the flat state (the data-parallel engine). `apply` calls it too.
   */
  beginStep(lr: number, weightDecay: number): AdamWStepConstants {
    this.stepCount += 1;
    return adamWStepConstants(this.settings.betas, this.settings.eps, this.stepCount, lr, weightDecay);
  }

  /** The variables this optimiser updates (the ones to differentiate). */
  variables(): tf.Variable[] {
    return this.slots.map((s) => s.param);
  }

  /** Applies one update. `grads` is keyed by variable name (as tf.variableGrads returns). */
  apply(grads: Record<string, tf.Tensor>, lr: number, weightDecay: number): void {
    for (const slot of this.slots) {
      if (!grads[slot.param.name]) throw new Error(`no gradient for ${slot.name}`);
    }
    const c = this.beginStep(lr, weightDecay);
    for (const slot of this.slots) {
      const g = grads[slot.param.name].dataSync() as Float32Array;
      // A copy: on the cpu backend dataSync returns the tensor's own storage.
      const p = (slot.param.dataSync() as Float32Array).slice();
      adamWUpdate(p, slot.expAvg, slot.expAvgSq, [g], slot.decay, c);
      tf.tidy(() => slot.param.assign(tf.tensor(p, slot.param.shape)));
    }
  }

  /** Moments in PyTorch layout: "<param>.exp_avg" and "<param>.exp_avg_sq". */
  exportState(): StateTensor[] {
    const out: StateTensor[] = [];
    for (const s of this.slots) {
      const shape = officialShape(s.spec);
      out.push({
        name: `${s.name}.exp_avg`,
        shape,
        data: toOfficialLayout(s.spec, s.expAvg),
      });
      out.push({
        name: `${s.name}.exp_avg_sq`,
        shape,
        data: toOfficialLayout(s.spec, s.expAvgSq),
      });
    }
    return out;
  }

  importState(
    tensors: Map<string, { shape: number[]; data: Float32Array }>,
    stepCount: number,
    origin = "optimizer state",
  ): void {
    for (const s of this.slots) {
      for (const key of [`${s.name}.exp_avg`, `${s.name}.exp_avg_sq`]) {
        const t = tensors.get(key);
        if (!t) throw new Error(`${origin}: missing tensor ${key}`);
        const want = officialShape(s.spec);
        if (t.shape.join(",") !== want.join(","))
          throw new Error(`${origin}: ${key} has shape [${t.shape}], expected [${want}]`);
      }
    }
    for (const s of this.slots) {
      s.expAvg.set(fromOfficialLayout(s.spec, tensors.get(`${s.name}.exp_avg`)!.data));
      s.expAvgSq.set(fromOfficialLayout(s.spec, tensors.get(`${s.name}.exp_avg_sq`)!.data));
    }
    this.stepCount = stepCount;
  }

  /** Names of parameters in the decayed / non-decayed groups (for tests and the startup summary). */
  groups(): { decay: string[]; noDecay: string[] } {
    return {
      decay: this.slots.filter((s) => s.decay).map((s) => s.name),
      noDecay: this.slots.filter((s) => !s.decay).map((s) => s.name),
    };
  }

  /** Nothing to free on the backend any more (the moments are plain memory); kept for callers' symmetry. */
  dispose(): void {}
}
