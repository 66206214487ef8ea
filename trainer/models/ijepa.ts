// I-JEPA as a whole: context encoder, predictor, EMA target encoder, the loss, and one optimisation step.
import * as tf from "@tensorflow/tfjs-core";
import { gatherRowsIndex, maskedPatchIndex, repeatInterleaveBatch } from "../masks/apply_masks.js";
import type { BatchMasks } from "../masks/multiblock.js";
import { layerNormNoAffine, regressionLoss } from "./layers.js";
import type { ModelDims } from "./model_dims.js";
import type { ParamSpec, StateTensor } from "./param_table.js";
import { variableGradsReleasing } from "./releasing_gradients.js";
import { targetReadRows } from "./target_read_rows.js";
import { VisionTransformer, VisionTransformerPredictor } from "./vision_transformer.js";

export type LossKind = "smooth_l1" | "l2";

/** Index tensors for one batch, built from its masks. */
export interface StepIndices {
  batch: number;
  numCtxMasks: number;
  numTargetMasks: number;
  ctxLen: number;
  targetLen: number;
  /** [nenc·B·Kc] rows of the [B·N] token matrix, mask-major (apply_masks(x, masks_enc)). */
  ctxRows: Int32Array;
  /** Grid index of each context row. */
  ctxPatches: Int32Array;
  /** [npred·nenc·B·Kt] rows of the target encoder's [B·N] output, in repeat_interleave_batch order. */
  targetRows: Int32Array;
  /** Grid index of each target row, same order (for the predictor's position embeddings). */
  targetPatches: Int32Array;
}

export function stepIndices(masks: BatchMasks, numPatches: number): StepIndices {
  const B = masks.batchSize;
  const nenc = masks.context.length;
  const npred = masks.target.length;
  const tRows = gatherRowsIndex(masks.target, B, numPatches);
  const tPatches = maskedPatchIndex(masks.target, B);
  // Targets come as npred chunks of B images, each of Kt tokens; repeat each chunk nenc times.
  const order = repeatInterleaveBatch(npred * B, B, nenc);
  const Kt = masks.targetKeep;
  const targetRows = new Int32Array(order.length * Kt);
  const targetPatches = new Int32Array(order.length * Kt);
  order.forEach((src, i) => {
    targetRows.set(tRows.subarray(src * Kt, (src + 1) * Kt), i * Kt);
    targetPatches.set(tPatches.subarray(src * Kt, (src + 1) * Kt), i * Kt);
  });
  return {
    batch: B,
    numCtxMasks: nenc,
    numTargetMasks: npred,
    ctxLen: masks.contextKeep,
    targetLen: Kt,
    ctxRows: gatherRowsIndex(masks.context, B, numPatches),
    ctxPatches: maskedPatchIndex(masks.context, B),
    targetRows,
    targetPatches,
  };
}

export interface StepResult {
  loss: number;
  /** Gradients keyed by variable name; the caller disposes them. */
  grads: Record<string, tf.Tensor>;
}

export class IJepa {
  /**
   * Compute every row of the target encoder's and the predictor's last block, where by default only the rows the
   * loss reads are computed (the same values): the reference the tests compare the default with.
   */
  fullLastBlock = false;

  constructor(
    readonly dims: ModelDims,
    readonly encoder: VisionTransformer,
    readonly predictor: VisionTransformerPredictor,
    readonly targetEncoder: VisionTransformer,
  ) {}

  /** Fresh weights from the seed; the target encoder starts as an exact copy of the context encoder. */
  static initialise(dims: ModelDims, seed: number): IJepa {
    const encoder = VisionTransformer.initialise(dims, seed, "encoder");
    const predictor = VisionTransformerPredictor.initialise(dims, seed);
    const targetEncoder = new VisionTransformer(
      dims,
      (spec) => Float32Array.from(encoder.params.get(spec.name).dataSync() as Float32Array),
      "target_encoder",
    );
    return new IJepa(dims, encoder, predictor, targetEncoder);
  }

  /**
   * Fixed values only (sin-cos position embeddings; zeros elsewhere): for a model whose weights are
   * about to be overwritten (a resumed run, a replica), without drawing millions of random numbers.
   */
  static blank(dims: ModelDims): IJepa {
    const fixedOrZero = (spec: ParamSpec) =>
      spec.init.kind === "fixed"
        ? Float32Array.from(spec.init.values)
        : new Float32Array(spec.shape.reduce((a, b) => a * b, 1));
    return new IJepa(
      dims,
      new VisionTransformer(dims, fixedOrZero, "encoder"),
      new VisionTransformerPredictor(dims, fixedOrZero),
      new VisionTransformer(dims, fixedOrZero, "target_encoder"),
    );
  }

  /** The variables that get gradients: context encoder + predictor (never the target encoder). */
  trainableVariables(): tf.Variable[] {
    return [...this.encoder.params.trainableVars(), ...this.predictor.params.trainableVars()];
  }

  /**
   * Targets: LayerNorm (no affine) of the target encoder's normed output on the full image, at the
   * target rows. Computed outside any gradient tape. The last block runs only at the rows some target reads
   * (per image, the union of its target patches); earlier blocks run on every token, which the next block's keys
   * and values need.
   */
  targets(patches: tf.Tensor2D, idx: StepIndices, targetRows: tf.Tensor1D): tf.Tensor2D {
    return tf.tidy(() => {
      // Both norms act per token, so normalising only the gathered rows equals normalising all, then gathering.
      const normed = (h: tf.Tensor2D, rows: tf.Tensor1D) =>
        layerNormNoAffine(this.targetEncoder.finalNorm(tf.gather(h, rows, 0)));
      if (this.fullLastBlock) return normed(this.targetEncoder.forwardFull(patches, idx.batch, false), targetRows);
      const read = targetReadRows(idx.targetRows, idx.batch, this.dims.numPatches);
      const rows = tf.tensor1d(read.rows, "int32");
      const h = this.targetEncoder.forwardAtRows(patches, idx.batch, rows, read.perImage);
      return normed(h, tf.tensor1d(read.positions, "int32"));
    });
  }

  /** Context encoder + predictor → predictions for every target token. */
  predict(
    patches: tf.Tensor2D,
    idx: StepIndices,
    t: { ctxRows: tf.Tensor1D; ctxPatches: tf.Tensor1D; targetPatches: tf.Tensor1D },
  ): tf.Tensor2D {
    const numCtxSeqs = idx.numCtxMasks * idx.batch;
    const z = this.encoder.forwardMasked(patches, idx.batch, t.ctxRows, numCtxSeqs, idx.ctxLen);
    return this.predictor.forward(
      z,
      t.ctxPatches,
      t.targetPatches,
      numCtxSeqs,
      idx.ctxLen,
      idx.numTargetMasks,
      idx.targetLen,
      this.fullLastBlock,
    );
  }

  /** Loss and gradients for one batch; patches [B·N, C·p·p]. Nothing is updated. */
  lossAndGrads(patches: tf.Tensor2D, idx: StepIndices, lossKind: LossKind, variables: tf.Variable[]): StepResult {
    const t = {
      ctxRows: tf.tensor1d(idx.ctxRows, "int32"),
      ctxPatches: tf.tensor1d(idx.ctxPatches, "int32"),
      targetRows: tf.tensor1d(idx.targetRows, "int32"),
      targetPatches: tf.tensor1d(idx.targetPatches, "int32"),
    };
    try {
      const h = this.targets(patches, idx, t.targetRows);
      try {
        // tf.variableGrads' values, with each gradient and saved activation freed as soon as the backward is past it.
        const { value, grads } = variableGradsReleasing(
          () => regressionLoss(this.predict(patches, idx, t), h, lossKind),
          variables,
        );
        const loss = value.dataSync()[0];
        value.dispose();
        return { loss, grads };
      } finally {
        h.dispose();
      }
    } finally {
      for (const x of Object.values(t)) x.dispose();
    }
  }

  /** Target encoder ← m · target + (1 − m) · context encoder. */
  updateTarget(momentum: number): void {
    tf.tidy(() => {
      for (const spec of this.encoder.params.specs) {
        if (!spec.trainable) continue;
        const k = this.targetEncoder.params.get(spec.name);
        const q = this.encoder.params.get(spec.name);
        k.assign(tf.add(tf.mul(k, momentum), tf.mul(q, 1 - momentum)));
      }
    });
  }

  /** model.safetensors content: encoder.*, predictor.*, target_encoder.* in PyTorch layout. */
  exportState(): StateTensor[] {
    return [
      ...this.encoder.params.exportState("encoder."),
      ...this.predictor.params.exportState("predictor."),
      ...this.targetEncoder.params.exportState("target_encoder."),
    ];
  }

  importState(tensors: Map<string, { shape: number[]; data: Float32Array }>, origin: string): void {
    this.encoder.params.importState(tensors, "encoder.", origin);
    this.predictor.params.importState(tensors, "predictor.", origin);
    this.targetEncoder.params.importState(tensors, "target_encoder.", origin);
  }

  dispose(): void {
    this.encoder.params.dispose();
    this.predictor.params.dispose();
    this.targetEncoder.params.dispose();
  }
}
