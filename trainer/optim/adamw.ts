// AdamW with the official I-JEPA parameter groups (no weight decay on biases and 1-D parameters), PyTorch's update rule.
import * as tf from "@tensorflow/tfjs-core";
import { type AdamWStepConstants, adamWStepConstants } from "./adamw_constants.js";
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
  expAvg: tf.Variable;
  expAvgSq: tf.Variable;
}

/** A parameter's place in flat moment buffers (the optimiser's order), for replicas that update them in place. */
export interface FlatParam {
  /** The tfjs variable's name (the key of its gradient). */
  variable: string;
  offset: number;
  size: number;
  decay: boolean;
}

/** Moments moved out of tfjs into flat arrays (see moveMoments): each parameter's views into them. */
interface FlatMoments {
  expAvg: Float32Array[];
  expAvgSq: Float32Array[];
}

export interface AdamWSettings {
  betas: [number, number];
  eps: number;
}

/**
 * torch.optim.AdamW (single-tensor path): p ← p·(1 − lr·wd); m ← lerp(m, g, 1 − β1); v ← β2·v + (1 − β2)·g²;
 * p ← p − (lr / (1 − β1ᵗ)) · m / (sqrt(v) / sqrt(1 − β2ᵗ) + eps). float32 throughout. The moments are tfjs variables
 * (on the backend, GPU included) until data-parallel replicas move them into the memory they share (moveMoments) and
 * apply the update there themselves, with the same float32 operations (train/sharded_update.ts).
 */
export class AdamW {
  private readonly slots: Slot[] = [];
  private flat: FlatMoments | undefined;
  /** Number of updates applied so far (PyTorch's per-parameter `step`, identical for all of ours). */
  stepCount = 0;

  constructor(
    tables: Array<{ prefix: string; table: ParamTable }>,
    readonly settings: AdamWSettings,
  ) {
    for (const { prefix, table } of tables) {
      for (const spec of table.specs) {
        if (!spec.trainable) continue;
        const param = table.get(spec.name);
        const slot: Slot = {
          name: prefix + spec.name,
          spec,
          param,
          decay: isDecayed(spec),
          expAvg: tf.tidy(() => tf.variable(tf.zerosLike(param), false)),
          expAvgSq: tf.tidy(() => tf.variable(tf.zerosLike(param), false)),
        };
        this.slots.push(slot);
      }
    }
  }

  /** The variables this optimiser updates (the ones to differentiate). */
  variables(): tf.Variable[] {
    return this.slots.map((s) => s.param);
  }

  /** Where each parameter sits in flat moment buffers: offsets in the optimiser's order, back to back. */
  flatLayout(): FlatParam[] {
    let offset = 0;
    return this.slots.map((s) => {
      const p = { variable: s.param.name, offset, size: s.param.size, decay: s.decay };
      offset += s.param.size;
      return p;
    });
  }

  /**
   * Moves the moments out of tfjs into `expAvg` and `expAvgSq` (laid out as flatLayout() says), which hold them from
   * then on: exportState and importState read and write there, and `apply` is refused — whoever moved them applies
   * each update (counted with beginStep).
   */
  moveMoments(expAvg: Float32Array, expAvgSq: Float32Array): void {
    if (this.flat) throw new Error("AdamW.moveMoments: the moments were moved already");
    const layout = this.flatLayout();
    const total = layout.reduce((n, p) => n + p.size, 0);
    if (expAvg.length !== total || expAvgSq.length !== total)
      throw new Error(`AdamW.moveMoments: buffers of ${total} floats expected`);
    const flat: FlatMoments = { expAvg: [], expAvgSq: [] };
    this.slots.forEach((s, i) => {
      const { offset, size } = layout[i];
      flat.expAvg.push(expAvg.subarray(offset, offset + size));
      flat.expAvgSq.push(expAvgSq.subarray(offset, offset + size));
      flat.expAvg[i].set(s.expAvg.dataSync() as Float32Array);
      flat.expAvgSq[i].set(s.expAvgSq.dataSync() as Float32Array);
      s.expAvg.dispose();
      s.expAvgSq.dispose();
    });
    this.flat = flat;
  }

  /** Counts one more update and returns its float32 scalars (for moved moments, whose owner applies it). */
  beginStep(lr: number, weightDecay: number): AdamWStepConstants {
    this.stepCount += 1;
    return adamWStepConstants(this.settings.betas, this.settings.eps, this.stepCount, lr, weightDecay);
  }

  /** Applies one update. `grads` is keyed by variable name (as tf.variableGrads returns). */
  apply(grads: Record<string, tf.Tensor>, lr: number, weightDecay: number): void {
    if (this.flat) throw new Error("AdamW.apply: the moments were moved out of tfjs; their owner applies updates");
    const [beta1, beta2] = this.settings.betas;
    this.stepCount += 1;
    const t = this.stepCount;
    const stepSize = lr / (1 - beta1 ** t);
    const bc2Sqrt = Math.sqrt(1 - beta2 ** t);
    tf.tidy(() => {
      for (const slot of this.slots) {
        const g = grads[slot.param.name];
        if (!g) throw new Error(`no gradient for ${slot.name}`);
        let p: tf.Tensor = slot.param;
        if (slot.decay && weightDecay !== 0) p = tf.mul(p, 1 - lr * weightDecay);
        const m = tf.add(slot.expAvg, tf.mul(tf.sub(g, slot.expAvg), 1 - beta1));
        const v = tf.add(tf.mul(slot.expAvgSq, beta2), tf.mul(tf.square(g), 1 - beta2));
        const denom = tf.add(tf.div(tf.sqrt(v), bc2Sqrt), this.settings.eps);
        slot.param.assign(tf.sub(p, tf.mul(tf.div(m, denom), stepSize)));
        slot.expAvg.assign(m);
        slot.expAvgSq.assign(v);
      }
    });
  }

  /** Moments in PyTorch layout: "<param>.exp_avg" and "<param>.exp_avg_sq". */
  exportState(): StateTensor[] {
    const out: StateTensor[] = [];
    this.slots.forEach((s, i) => {
      const shape = officialShape(s.spec);
      const m = this.flat ? this.flat.expAvg[i] : (s.expAvg.dataSync() as Float32Array);
      const v = this.flat ? this.flat.expAvgSq[i] : (s.expAvgSq.dataSync() as Float32Array);
      out.push({ name: `${s.name}.exp_avg`, shape, data: toOfficialLayout(s.spec, m) });
      out.push({ name: `${s.name}.exp_avg_sq`, shape, data: toOfficialLayout(s.spec, v) });
    });
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
    const flat = this.flat;
    if (flat) {
      this.slots.forEach((s, i) => {
        flat.expAvg[i].set(fromOfficialLayout(s.spec, tensors.get(`${s.name}.exp_avg`)!.data));
        flat.expAvgSq[i].set(fromOfficialLayout(s.spec, tensors.get(`${s.name}.exp_avg_sq`)!.data));
      });
      this.stepCount = stepCount;
      return;
    }
    tf.tidy(() => {
      for (const s of this.slots) {
        s.expAvg.assign(tf.tensor(fromOfficialLayout(s.spec, tensors.get(`${s.name}.exp_avg`)!.data), s.spec.shape));
        s.expAvgSq.assign(
          tf.tensor(fromOfficialLayout(s.spec, tensors.get(`${s.name}.exp_avg_sq`)!.data), s.spec.shape),
        );
      }
    });
    this.stepCount = stepCount;
  }

  /** Names of parameters in the decayed / non-decayed groups (for tests and the startup summary). */
  groups(): { decay: string[]; noDecay: string[] } {
    return {
      decay: this.slots.filter((s) => s.decay).map((s) => s.name),
      noDecay: this.slots.filter((s) => !s.decay).map((s) => s.name),
    };
  }

  dispose(): void {
    if (this.flat) return; // the variables went with moveMoments
    for (const s of this.slots) {
      s.expAvg.dispose();
      s.expAvgSq.dispose();
    }
  }
}
