// The ViT context/target encoder and the narrow ViT predictor of I-JEPA (facebookresearch/ijepa models/vision_transformer).
import * as tf from "@tensorflow/tfjs-core";
import { Rng } from "../utils/rng.js";
import { addNoSave, attention, gatherRows, gelu, layerNorm, linear, reshapeNoSave } from "./layers.js";
import type { ModelDims } from "./model_dims.js";
import { ParamTable, initialValues, type ParamSpec } from "./param_table.js";
import { sincosPosEmbed2d } from "./pos_embed.js";

/** nn.LayerNorm(eps=1e-6), as the official vit_* constructors use. */
export const LN_EPS = 1e-6;
const INIT_STD = 0.02;

/** Specs of one pre-norm transformer block (official Block), in state_dict order. */
function blockSpecs(prefix: string, dim: number, hidden: number, layerId: number, rescale: boolean): ParamSpec[] {
  // fix_init_weight: attn.proj and mlp.fc2 weights are divided by sqrt(2·layer_id), layer_id from 1.
  const divisor = rescale ? Math.sqrt(2 * layerId) : 1;
  const lin = (name: string, inDim: number, outDim: number, div = 1): ParamSpec[] => [
    {
      name: `${prefix}.${name}.weight`,
      shape: [inDim, outDim],
      layout: "linear",
      init: { kind: "truncNormal", std: INIT_STD, divisor: div },
      trainable: true,
    },
    { name: `${prefix}.${name}.bias`, shape: [outDim], layout: "vector", init: { kind: "zeros" }, trainable: true },
  ];
  const norm = (name: string): ParamSpec[] => [
    { name: `${prefix}.${name}.weight`, shape: [dim], layout: "vector", init: { kind: "ones" }, trainable: true },
    { name: `${prefix}.${name}.bias`, shape: [dim], layout: "vector", init: { kind: "zeros" }, trainable: true },
  ];
  return [
    ...norm("norm1"),
    ...lin("attn.qkv", dim, 3 * dim),
    ...lin("attn.proj", dim, dim, divisor),
    ...norm("norm2"),
    ...lin("mlp.fc1", dim, hidden),
    ...lin("mlp.fc2", hidden, dim, divisor),
  ];
}

/** The rows of each sequence a block's output is read at: `len` per sequence, picked by `pick` from [S·T, D]. */
export interface ReadRows {
  len: number;
  pick: (t: tf.Tensor2D) => tf.Tensor2D;
}

/**
 * Runs one block on `numSeqs` sequences of `seqLen` tokens (rows of x). With `readRows`, returns only those rows
 * ([numSeqs·readRows.len, D]): every row's keys and values still enter the attention, while the queries, the
 * projection, the residual and the MLP (all row-wise) run on the read rows alone — the same values as the full
 * block at those rows.
 */
function runBlock(
  p: ParamTable,
  prefix: string,
  x: tf.Tensor2D,
  numSeqs: number,
  seqLen: number,
  heads: number,
  readRows?: ReadRows,
): tf.Tensor2D {
  const w = (name: string) => p.get(`${prefix}.${name}`) as tf.Tensor as tf.Tensor2D;
  const v = (name: string) => p.get(`${prefix}.${name}`) as tf.Tensor as tf.Tensor1D;
  const h = layerNorm(x, v("norm1.weight"), v("norm1.bias"), LN_EPS);
  const a = attention(
    h,
    { qkvW: w("attn.qkv.weight"), qkvB: v("attn.qkv.bias"), projW: w("attn.proj.weight"), projB: v("attn.proj.bias") },
    numSeqs,
    seqLen,
    heads,
    readRows && { rows: readRows.pick(h), len: readRows.len },
  );
  const x1 = addNoSave(readRows ? readRows.pick(x) : x, a);
  const h2 = layerNorm(x1, v("norm2.weight"), v("norm2.bias"), LN_EPS);
  const m = linear(gelu(linear(h2, w("mlp.fc1.weight"), v("mlp.fc1.bias"))), w("mlp.fc2.weight"), v("mlp.fc2.bias"));
  return addNoSave(x1, m);
}

/**
 * VisionTransformer without a CLS token. Tokens travel as a 2-D matrix [sequences·tokens, width] so
 * every linear layer is one plain matmul.
 */
export class VisionTransformer {
  readonly params: ParamTable;

  constructor(
    readonly dims: ModelDims,
    values: (spec: ParamSpec) => Float32Array,
    scope: string,
  ) {
    this.params = new ParamTable(VisionTransformer.specs(dims), values, scope);
  }

  /** A freshly initialised encoder (trunc-normal(0.02) weights, zero biases, LayerNorm (1, 0), fixed sin-cos pos_embed). */
  static initialise(dims: ModelDims, seed: number, scope = "encoder"): VisionTransformer {
    const rng = Rng.fromSeed(seed, "init/encoder");
    return new VisionTransformer(dims, (spec) => initialValues(spec, rng), scope);
  }

  static specs(d: ModelDims): ParamSpec[] {
    const patchIn = d.inChannels * d.patchSize * d.patchSize;
    const specs: ParamSpec[] = [
      {
        name: "pos_embed",
        shape: [d.numPatches, d.embedDim],
        layout: "pos",
        init: { kind: "fixed", values: sincosPosEmbed2d(d.embedDim, d.gridSize) },
        trainable: false,
      },
      {
        name: "patch_embed.proj.weight",
        shape: [patchIn, d.embedDim],
        layout: "patch",
        patchDims: [d.inChannels, d.patchSize, d.patchSize],
        init: { kind: "truncNormal", std: INIT_STD },
        trainable: true,
      },
      {
        name: "patch_embed.proj.bias",
        shape: [d.embedDim],
        layout: "vector",
        init: { kind: "zeros" },
        trainable: true,
      },
    ];
    for (let i = 0; i < d.depth; i++)
      specs.push(...blockSpecs(`blocks.${i}`, d.embedDim, d.mlpHidden, i + 1, d.initRescale));
    specs.push(
      { name: "norm.weight", shape: [d.embedDim], layout: "vector", init: { kind: "ones" }, trainable: true },
      { name: "norm.bias", shape: [d.embedDim], layout: "vector", init: { kind: "zeros" }, trainable: true },
    );
    return specs;
  }

  /**
   * Patch embedding + position embedding: patches [B·N, C·p·p] (see patchify) → tokens [B·N, D].
   * A stride-p, kernel-p convolution is exactly a linear map of each flattened patch.
   */
  embed(patches: tf.Tensor2D, batch: number): tf.Tensor2D {
    const d = this.dims;
    const x = linear(
      patches,
      this.params.get("patch_embed.proj.weight") as tf.Tensor as tf.Tensor2D,
      this.params.get("patch_embed.proj.bias") as tf.Tensor as tf.Tensor1D,
    );
    const withPos = tf.add(reshapeNoSave(x, [batch, d.numPatches, d.embedDim]), this.params.get("pos_embed"));
    return reshapeNoSave(withPos, [batch * d.numPatches, d.embedDim]) as tf.Tensor2D;
  }

  /** All blocks on `numSeqs` sequences of `seqLen` tokens. */
  blocks(x: tf.Tensor2D, numSeqs: number, seqLen: number): tf.Tensor2D {
    let h = x;
    // Each block in its own tidy: under a gradient tape what the backward needs is saved (and kept) by the ops
    // themselves, so the rest of a block's intermediates go when it ends, not when the whole forward does.
    for (let i = 0; i < this.dims.depth; i++) {
      const input = h;
      h = tf.tidy(() => runBlock(this.params, `blocks.${i}`, input, numSeqs, seqLen, this.dims.numHeads));
    }
    return h;
  }

  /** The final LayerNorm (self.norm). Per token, so it may run on a subset of rows. */
  finalNorm(x: tf.Tensor2D): tf.Tensor2D {
    return layerNorm(
      x,
      this.params.get("norm.weight") as tf.Tensor as tf.Tensor1D,
      this.params.get("norm.bias") as tf.Tensor as tf.Tensor1D,
      LN_EPS,
    );
  }

  /**
   * Encoder forward on the context: embed, keep the rows `keepRows` (flat indices into [B·N]: the
   * context patches of each image, mask-major), run the blocks on `numSeqs` sequences of `seqLen`, norm.
   */
  forwardMasked(
    patches: tf.Tensor2D,
    batch: number,
    keepRows: tf.Tensor1D,
    numSeqs: number,
    seqLen: number,
  ): tf.Tensor2D {
    const tokens = gatherRows(this.embed(patches, batch), keepRows);
    return this.finalNorm(this.blocks(tokens, numSeqs, seqLen));
  }

  /**
   * Encoder forward on whole images → [B·N, D] (before the final norm when `withNorm` is false). Inference only (the
   * target encoder, features): each block runs in its own tidy, so only one block's intermediates are alive at a time
   * instead of the whole network's — never call it under a gradient tape.
   */
  forwardFull(patches: tf.Tensor2D, batch: number, withNorm = true): tf.Tensor2D {
    const h = this.blocksReleasing(patches, batch);
    if (!withNorm) return h;
    const normed = tf.tidy(() => this.finalNorm(h));
    h.dispose();
    return normed;
  }

  /**
   * forwardFull's output before the final norm, computed only at the rows `rows` (int32 [B·perImage], flat
   * indices into [B·N], image b's in block b): the last block attends from those rows to all of the image's
   * tokens, so each row equals forwardFull's. For the target encoder, whose output the loss reads at the target
   * patches only. Inference only, like forwardFull.
   */
  forwardAtRows(patches: tf.Tensor2D, batch: number, rows: tf.Tensor1D, perImage: number): tf.Tensor2D {
    return this.blocksReleasing(patches, batch, { len: perImage, pick: (t) => tf.gather(t, rows, 0) });
  }

  /** Embedding and blocks on whole images, each block in its own tidy; the last one at `lastRows` only if given. */
  private blocksReleasing(patches: tf.Tensor2D, batch: number, lastRows?: ReadRows): tf.Tensor2D {
    const { depth, numPatches, numHeads } = this.dims;
    let h = tf.tidy(() => this.embed(patches, batch));
    for (let i = 0; i < depth; i++) {
      const input = h;
      const readRows = i === depth - 1 ? lastRows : undefined;
      h = tf.tidy(() => runBlock(this.params, `blocks.${i}`, input, batch, numPatches, numHeads, readRows));
      input.dispose();
    }
    return h;
  }
}

/** VisionTransformerPredictor: context tokens + mask tokens at the target positions → predicted target features. */
export class VisionTransformerPredictor {
  readonly params: ParamTable;

  constructor(
    readonly dims: ModelDims,
    values: (spec: ParamSpec) => Float32Array,
    scope = "predictor",
  ) {
    this.params = new ParamTable(VisionTransformerPredictor.specs(dims), values, scope);
  }

  static initialise(dims: ModelDims, seed: number): VisionTransformerPredictor {
    const rng = Rng.fromSeed(seed, "init/predictor");
    return new VisionTransformerPredictor(dims, (spec) => initialValues(spec, rng));
  }

  static specs(d: ModelDims): ParamSpec[] {
    const specs: ParamSpec[] = [
      {
        name: "mask_token",
        shape: [d.predEmbedDim],
        layout: "token",
        init: { kind: "truncNormal", std: INIT_STD },
        trainable: true,
      },
      {
        name: "predictor_pos_embed",
        shape: [d.numPatches, d.predEmbedDim],
        layout: "pos",
        init: { kind: "fixed", values: sincosPosEmbed2d(d.predEmbedDim, d.gridSize) },
        trainable: false,
      },
      {
        name: "predictor_embed.weight",
        shape: [d.embedDim, d.predEmbedDim],
        layout: "linear",
        init: { kind: "truncNormal", std: INIT_STD },
        trainable: true,
      },
      {
        name: "predictor_embed.bias",
        shape: [d.predEmbedDim],
        layout: "vector",
        init: { kind: "zeros" },
        trainable: true,
      },
    ];
    for (let i = 0; i < d.predDepth; i++)
      specs.push(...blockSpecs(`predictor_blocks.${i}`, d.predEmbedDim, d.predMlpHidden, i + 1, d.initRescale));
    specs.push(
      {
        name: "predictor_norm.weight",
        shape: [d.predEmbedDim],
        layout: "vector",
        init: { kind: "ones" },
        trainable: true,
      },
      {
        name: "predictor_norm.bias",
        shape: [d.predEmbedDim],
        layout: "vector",
        init: { kind: "zeros" },
        trainable: true,
      },
      {
        name: "predictor_proj.weight",
        shape: [d.predEmbedDim, d.embedDim],
        layout: "linear",
        init: { kind: "truncNormal", std: INIT_STD },
        trainable: true,
      },
      { name: "predictor_proj.bias", shape: [d.embedDim], layout: "vector", init: { kind: "zeros" }, trainable: true },
    );
    return specs;
  }

  /**
   * context [S·Kc, D]: encoder output for S context sequences (S = nenc·B, mask-major).
   * contextPatches int32 [S·Kc]: grid index of each context token (for its position embedding).
   * targetPatches int32 [R·S·Kt]: grid index of each target token, ordered (target mask, context
   * sequence, token) — the official repeat_interleave_batch order — with R = number of target masks.
   * Returns predictions [R·S·Kt, D] in the same order. Only the mask tokens' outputs are read (official:
   * `x[:, N_ctxt:]` after the norm), so the last block computes those rows alone (`fullLastBlock`: every row, the
   * reference the tests compare with).
   */
  forward(
    context: tf.Tensor2D,
    contextPatches: tf.Tensor1D,
    targetPatches: tf.Tensor1D,
    numCtxSeqs: number,
    ctxLen: number,
    numTargetMasks: number,
    targetLen: number,
    fullLastBlock = false,
  ): tf.Tensor2D {
    const d = this.dims;
    const p = this.params;
    const v1 = (name: string) => p.get(name) as tf.Tensor as tf.Tensor1D;
    const v2 = (name: string) => p.get(name) as tf.Tensor as tf.Tensor2D;
    const pos = p.get("predictor_pos_embed") as tf.Tensor as tf.Tensor2D;
    // x = predictor_embed(x) + pos_embed[context positions]
    let x = addNoSave(
      linear(context, v2("predictor_embed.weight"), v1("predictor_embed.bias")),
      tf.gather(pos, contextPatches, 0),
    );
    // mask tokens: the shared learnable token + pos_embed[target positions]
    const numSeqs = numTargetMasks * numCtxSeqs;
    const predTokens = tf.reshape(tf.add(tf.gather(pos, targetPatches, 0), p.get("mask_token")), [
      numSeqs,
      targetLen,
      d.predEmbedDim,
    ]);
    // x.repeat(len(masks), 1, 1), then concatenate the mask tokens after each context sequence. The repeat is a
    // concat of copies: tfjs-wasm's Tile (and its gradient) ran ~5× slower on these shapes.
    const ctxOnce = tf.reshape(x, [numCtxSeqs, ctxLen, d.predEmbedDim]);
    const ctx3 = tf.concat(
      Array.from({ length: numTargetMasks }, () => ctxOnce),
      0,
    );
    const seqLen = ctxLen + targetLen;
    x = tf.reshape(tf.concat([ctx3, predTokens], 1), [numSeqs * seqLen, d.predEmbedDim]);
    // The mask-token rows of each sequence (its last targetLen).
    const width = d.predEmbedDim;
    const maskTokens: ReadRows = {
      len: targetLen,
      pick: (t) =>
        reshapeNoSave(
          tf.slice(reshapeNoSave(t, [numSeqs, seqLen, width]), [0, ctxLen, 0], [numSeqs, targetLen, width]),
          [numSeqs * targetLen, width],
        ) as tf.Tensor2D,
    };
    for (let i = 0; i < d.predDepth; i++) {
      const readRows = i === d.predDepth - 1 && !fullLastBlock ? maskTokens : undefined;
      const input = x;
      // Its own tidy, as in VisionTransformer.blocks.
      x = tf.tidy(() => runBlock(p, `predictor_blocks.${i}`, input, numSeqs, seqLen, d.predNumHeads, readRows));
    }
    // predictor_norm is per token, so normalising only the mask tokens is the same as normalising all.
    const targets = fullLastBlock ? maskTokens.pick(x) : x;
    const normed = layerNorm(targets, v1("predictor_norm.weight"), v1("predictor_norm.bias"), LN_EPS);
    return linear(normed, v2("predictor_proj.weight"), v1("predictor_proj.bias"));
  }
}

/**
 * Images uint8/float NHWC → patch rows [B·N, C·p·p], each row in (c, kh, kw) order to match the
 * flattened PyTorch Conv2d kernel [D, C, p, p]. Patches are row-major over the grid.
 */
export function patchify(
  images: Float32Array,
  batch: number,
  size: number,
  channels: number,
  patch: number,
): Float32Array {
  const grid = size / patch;
  const rowLen = channels * patch * patch;
  const out = new Float32Array(batch * grid * grid * rowLen);
  let o = 0;
  for (let b = 0; b < batch; b++) {
    const base = b * size * size * channels;
    for (let gr = 0; gr < grid; gr++) {
      for (let gc = 0; gc < grid; gc++) {
        for (let c = 0; c < channels; c++) {
          for (let kh = 0; kh < patch; kh++) {
            const y = gr * patch + kh;
            for (let kw = 0; kw < patch; kw++) {
              out[o++] = images[base + (y * size + gc * patch + kw) * channels + c];
            }
          }
        }
      }
    }
  }
  return out;
}
