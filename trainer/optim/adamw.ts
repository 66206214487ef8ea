// AdamW with the official I-JEPA parameter groups (no weight decay on biases and 1-D parameters), PyTorch's update rule.
import * as tf from "@tensorflow/tfjs-core";
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

export interface AdamWSettings {
  betas: [number, number];
  eps: number;
}

/**
 * torch.optim.AdamW (single-tensor path): p ← p·(1 − lr·wd); m ← lerp(m, g, 1 − β1); v ← β2·v + (1 − β2)·g²;
 * p ← p − (lr / (1 − β1ᵗ)) · m / (sqrt(v) / sqrt(1 − β2ᵗ) + eps). float32 throughout.
 */
export class AdamW {
  private readonly slots: Slot[] = [];
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

  /** Applies one update. `grads` is keyed by variable name (as tf.variableGrads returns). */
  apply(grads: Record<string, tf.Tensor>, lr: number, weightDecay: number): void {
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
    for (const s of this.slots) {
      const shape = officialShape(s.spec);
      out.push({
        name: `${s.name}.exp_avg`,
        shape,
        data: toOfficialLayout(s.spec, s.expAvg.dataSync() as Float32Array),
      });
      out.push({
        name: `${s.name}.exp_avg_sq`,
        shape,
        data: toOfficialLayout(s.spec, s.expAvgSq.dataSync() as Float32Array),
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
    for (const s of this.slots) {
      s.expAvg.dispose();
      s.expAvgSq.dispose();
    }
  }
}
