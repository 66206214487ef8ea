// Named model weights kept in tfjs's fast layout, with the mapping to and from the official PyTorch state dict.
import * as tf from "@tensorflow/tfjs-core";
import type { Rng } from "../utils/rng.js";

/**
 * How a weight's internal layout maps to PyTorch's:
 * - linear: internal [in, out] ↔ nn.Linear.weight [out, in]
 * - patch:  internal [C·p·p, D] (rows in (c, kh, kw) order) ↔ Conv2d.weight [D, C, p, p]
 * - pos:    internal [N, D] ↔ [1, N, D]
 * - token:  internal [D] ↔ [1, 1, D]
 * - vector: the same [D] on both sides (biases, LayerNorm)
 */
export type ParamLayout = "linear" | "patch" | "pos" | "token" | "vector";

export type ParamInit =
  | { kind: "truncNormal"; std: number; divisor?: number }
  | { kind: "zeros" }
  | { kind: "ones" }
  | { kind: "fixed"; values: Float32Array };

export interface ParamSpec {
  /** Official state-dict name without the module prefix, e.g. "blocks.0.attn.qkv.weight". */
  name: string;
  shape: number[];
  layout: ParamLayout;
  init: ParamInit;
  /** False for the fixed sin-cos position embeddings (requires_grad=False in the official code). */
  trainable: boolean;
  /** Extra dims for the patch layout: [C, p, p]. */
  patchDims?: [number, number, number];
}

/** A state-dict entry in PyTorch layout. */
export interface StateTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** Official weight-decay rule (helper.init_opt): no decay for biases and 1-D parameters. */
export function isDecayed(spec: ParamSpec): boolean {
  return !spec.name.includes("bias") && officialShape(spec).length !== 1;
}

export function officialShape(spec: ParamSpec): number[] {
  switch (spec.layout) {
    case "linear":
      return [spec.shape[1], spec.shape[0]];
    case "patch":
      return [spec.shape[1], ...spec.patchDims!];
    case "pos":
      return [1, ...spec.shape];
    case "token":
      return [1, 1, ...spec.shape];
    case "vector":
      return [...spec.shape];
  }
}

/** Draws a spec's initial values from `rng` (our own generator, so every backend starts from the same bytes). */
export function initialValues(spec: ParamSpec, rng: Rng): Float32Array {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const init = spec.init;
  switch (init.kind) {
    case "zeros":
      return new Float32Array(size);
    case "ones":
      return new Float32Array(size).fill(1);
    case "fixed":
      if (init.values.length !== size)
        throw new Error(`fixed init of ${spec.name}: ${init.values.length} values for ${size}`);
      return Float32Array.from(init.values);
    case "truncNormal": {
      // Drawn in PyTorch's layout order so that the same stream gives the same weight matrix
      // regardless of how we store it; then laid out internally.
      const official = new Float32Array(size);
      const divisor = init.divisor ?? 1;
      for (let i = 0; i < size; i++) official[i] = rng.truncNormal(init.std) / divisor;
      return fromOfficialLayout(spec, official);
    }
  }
}

/** PyTorch-layout values → internal layout. */
export function fromOfficialLayout(spec: ParamSpec, data: Float32Array): Float32Array {
  if (spec.layout === "linear" || spec.layout === "patch") {
    const [rows, cols] = spec.shape; // internal [in, out]; official [out, in]
    return transpose2d(data, cols, rows);
  }
  return Float32Array.from(data);
}

/** Internal layout → PyTorch-layout values. */
export function toOfficialLayout(spec: ParamSpec, data: Float32Array): Float32Array {
  if (spec.layout === "linear" || spec.layout === "patch") {
    const [rows, cols] = spec.shape;
    return transpose2d(data, rows, cols);
  }
  return Float32Array.from(data);
}

/** Row-major [rows, cols] → [cols, rows]. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  }
  return out;
}

let tableCounter = 0;

/** An ordered set of tfjs variables described by specs (order = the official state_dict order). */
export class ParamTable {
  readonly specs: ParamSpec[];
  readonly vars = new Map<string, tf.Variable>();

  constructor(
    specs: ParamSpec[],
    values: (spec: ParamSpec) => Float32Array,
    readonly scope: string,
  ) {
    this.specs = specs;
    // tfjs variable names are global to the process: make them unique per table.
    const id = tableCounter++;
    for (const spec of specs) {
      const v = values(spec);
      // tidy disposes the temporary tensor; the variable keeps its data.
      this.vars.set(
        spec.name,
        tf.tidy(() => tf.variable(tf.tensor(v, spec.shape, "float32"), spec.trainable, `${scope}#${id}/${spec.name}`)),
      );
    }
  }

  get(name: string): tf.Variable {
    const v = this.vars.get(name);
    if (!v) throw new Error(`${this.scope} has no parameter ${name}`);
    return v;
  }

  trainableVars(): tf.Variable[] {
    return this.specs.filter((s) => s.trainable).map((s) => this.get(s.name));
  }

  /** The weights in PyTorch layout and state_dict order, names prefixed with `prefix` ("encoder." …). */
  exportState(prefix = ""): StateTensor[] {
    return this.specs.map((spec) => ({
      name: prefix + spec.name,
      shape: officialShape(spec),
      data: toOfficialLayout(spec, this.get(spec.name).dataSync() as Float32Array),
    }));
  }

  /** Loads PyTorch-layout tensors (missing, extra or mis-shaped names are an error that names them). */
  importState(tensors: Map<string, { shape: number[]; data: Float32Array }>, prefix = "", origin = "checkpoint"): void {
    for (const spec of this.specs) {
      const name = prefix + spec.name;
      const t = tensors.get(name);
      if (!t) throw new Error(`${origin}: missing tensor ${name}`);
      const want = officialShape(spec);
      if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
        throw new Error(
          `${origin}: tensor ${name} has shape [${t.shape}], the model needs [${want}] (was it trained with another config?)`,
        );
      }
    }
    tf.tidy(() => {
      for (const spec of this.specs) {
        const t = tensors.get(prefix + spec.name)!;
        this.get(spec.name).assign(tf.tensor(fromOfficialLayout(spec, t.data), spec.shape, "float32"));
      }
    });
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }

  numParams(trainableOnly = false): number {
    return this.specs
      .filter((s) => !trainableOnly || s.trainable)
      .reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  }
}
