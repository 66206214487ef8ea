// tf.variableGrads with a backward pass that frees each tensor as soon as nothing later in the pass reads it.
//
// tfjs's own backward (engine.gradients) keeps every intermediate gradient and every tensor saved for the backward
// until the whole pass ends, so its memory peak is all saved activations plus all their gradients at once; on wasm
// the heap never shrinks, and that peak is what a replica's RSS pays. This walks the same tape in the same order,
// calling the same gradient functions with the same inputs (so every value is bit-identical), and releases:
// - an output's gradient once its node has been differentiated (a tensor is the output of one node only, and every
//   node that reads it comes later on the tape, so earlier in the backward);
// - a node's saved tensors once its gradient has been computed (each is the engine's own clone for that node);
// - a partial gradient once it has been summed into its input's running total.
import * as tf from "@tensorflow/tfjs-core";

/** The engine's tape node (tfjs-core engine.ts `TapeNode`), as far as the backward reads it. */
interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: Array<tf.Tensor | null>) => Record<string, () => tf.Tensor>;
}

/** The engine internals engine.gradients itself uses (tfjs-core 4.x). */
interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
}

function engineInternals(): EngineInternals {
  const engine = tf.engine() as unknown as Partial<EngineInternals>;
  if (
    typeof engine.scopedRun !== "function" ||
    typeof engine.startTape !== "function" ||
    typeof engine.endTape !== "function" ||
    typeof engine.state?.gradientDepth !== "number"
  ) {
    throw new Error("this tfjs-core has no gradient tape internals as 4.x has: use tf.variableGrads instead");
  }
  return engine as EngineInternals;
}

/**
 * The nodes on a path from some x to y, inputs pruned to those that depend on an x (tfjs-core tape.ts
 * getFilteredNodesXToY, which is not exported).
 */
function nodesFromXToY(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      for (const o of node.outputs) fromX.add(o.id);
      nodesFromX.add(node.id);
    }
  }
  const toY = new Set([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((o) => toY.has(o.id))) {
      for (const t of Object.values(node.inputs)) toY.add(t.id);
      nodesToY.add(node.id);
    }
  }
  return tape
    .filter((node) => nodesFromX.has(node.id) && nodesToY.has(node.id))
    .map((node) => ({
      ...node,
      inputs: Object.fromEntries(Object.entries(node.inputs).filter(([, t]) => fromX.has(t.id))),
    }));
}

/**
 * Loss f() and its gradients for the trainable variables in `varList`, as tf.variableGrads returns them (gradients
 * keyed by variable name, only those the loss depends on; the caller disposes value and gradients).
 */
export function variableGradsReleasing(
  f: () => tf.Scalar,
  varList: tf.Variable[],
): { value: tf.Scalar; grads: Record<string, tf.Tensor> } {
  const engine = engineInternals();
  if (engine.state.gradientDepth > 0) throw new Error("variableGradsReleasing cannot run inside another gradient");
  const xs = varList.filter((v) => v.trainable);
  if (xs.length === 0) throw new Error("variableGradsReleasing needs at least one trainable variable");
  // The tape's saved tensors are freed however this ends (a forward that throws included).
  const releaseTape = () => {
    for (const node of engine.state.activeTape ?? []) for (const t of node.saved ?? []) t.dispose();
    engine.state.activeTape = null;
  };
  let value: tf.Tensor;
  try {
    value = engine.scopedRun(
      () => engine.startTape(),
      () => engine.endTape(),
      () => tf.tidy("forward", f),
    );
  } catch (err) {
    releaseTape();
    throw err;
  }
  if (!(value instanceof tf.Tensor) || value.rank !== 0) {
    releaseTape();
    throw new Error("variableGradsReleasing: f must return a scalar");
  }
  const tape = engine.state.activeTape ?? [];
  try {
    const grads = tf.tidy("backward", () => backward(nodesFromXToY(tape, xs, value), xs, value));
    const named: Record<string, tf.Tensor> = {};
    xs.forEach((v, i) => {
      const g = grads[i];
      if (g !== undefined) named[v.name] = g;
    });
    if (Object.keys(named).length === 0) {
      throw new Error("variableGradsReleasing: the loss does not depend on any of the variables");
    }
    return { value: value as tf.Scalar, grads: named };
  } catch (err) {
    value.dispose();
    throw err;
  } finally {
    releaseTape();
  }
}

/** Backpropagates from y through `nodes` (in tape order); returns the gradient of each x (undefined: none). */
function backward(nodes: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): Array<tf.Tensor | undefined> {
  // Running gradient per tensor id, and how many ids hold each tensor object (a gradient function may hand the
  // same tensor to two inputs, or pass dy through): an object is disposed only when no id holds it.
  const acc = new Map<number, tf.Tensor>();
  const holders = new Map<tf.Tensor, number>();
  const hold = (id: number, t: tf.Tensor) => {
    acc.set(id, t);
    holders.set(t, (holders.get(t) ?? 0) + 1);
  };
  const release = (id: number) => {
    const t = acc.get(id);
    if (t === undefined) return;
    acc.delete(id);
    const n = (holders.get(t) ?? 1) - 1;
    if (n > 0) holders.set(t, n);
    else {
      holders.delete(t);
      t.dispose();
    }
  };
  const disposeUnheld = (t: tf.Tensor) => {
    if (!holders.has(t)) t.dispose();
  };
  hold(y.id, tf.onesLike(y));
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    if (node.gradient === undefined) {
      throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
    }
    const dys = node.outputs.map((o) => acc.get(o.id) ?? null);
    const inputGrads = node.gradient(dys);
    for (const [name, x] of Object.entries(node.inputs)) {
      const gradOf = inputGrads[name];
      if (gradOf === undefined) throw new Error(`Cannot backprop through input ${name} of ${node.kernelName}.`);
      const dx = tf.tidy(gradOf);
      if (dx.dtype !== "float32" || !tf.util.arraysEqual(dx.shape, x.shape)) {
        throw new Error(
          `gradient of ${node.kernelName}'s input ${name} is ${dx.dtype} ${dx.shape}, not float32 ${x.shape}`,
        );
      }
      const sofar = acc.get(x.id);
      if (sofar === undefined) hold(x.id, dx);
      else {
        const sum = tf.add(sofar, dx);
        release(x.id);
        hold(x.id, sum);
        disposeUnheld(dx);
      }
    }
    for (const o of node.outputs) release(o.id);
    for (const t of node.saved ?? []) t.dispose();
  }
  return xs.map((x) => acc.get(x.id));
}
