// One data-parallel replica in a worker thread: computes its slice's gradients, then updates its share of the weights.
import * as tf from "@tensorflow/tfjs-core";
import { parentPort, workerData } from "node:worker_threads";
import { initBackend } from "../backend.js";
import { IJepa } from "../models/ijepa.js";
import type { AdamWStepConstants } from "../optim/adamw_constants.js";
import { profilingRequested, startKernelProfile, takeKernelProfile, wasmHeapMb } from "../kernels/kernel_profiler.js";
import { type ReplicaWorkerInit, type StepBatch, awaitShares, layoutName, loadWeights } from "./gradient_engine.js";
import { SharedUpdateKernel, sharedBuffers } from "./sharded_update.js";

const { init } = workerData as { init: ReplicaWorkerInit };
const port = parentPort!;
const { layout, replica, replicas } = init;

await initBackend(init.backend);
if (profilingRequested()) startKernelProfile();
// Every trainable weight (and the whole target encoder) comes from main's through the shared weights buffer.
const model = IJepa.blank(init.dims);
const byName = new Map(
  [
    ...model.trainableVariables(),
    ...model.targetEncoder.params.specs.map((s) => model.targetEncoder.params.get(s.name)),
  ].map((v) => [layoutName(v), v]),
);
const syncVars = layout.names.map((name) => {
  const v = byName.get(name);
  if (!v) throw new Error(`replica worker: the main process's ${name} is not in this replica's model`);
  return v;
});
const trainable = syncVars.slice(0, init.segments.length);
const buffers = sharedBuffers(init.memory, init.memoryLayout, init.weightCount, init.trainableCount);
const kernel = new SharedUpdateKernel(init.memory, init.memoryLayout);
const sharesDone = new Int32Array(init.sharesDone);
const everyVariable = syncVars.map((_, i) => i);

/** Loss and stats of this replica's slice; its gradients go to its shared buffer. */
function computeStep(b: StepBatch) {
  const start = performance.now();
  takeKernelProfile(); // this step's profile starts here
  const patches = tf.tensor2d(b.patches, [b.patches.length / b.patchWidth, b.patchWidth]);
  let result: ReturnType<typeof model.lossAndGrads>;
  try {
    result = model.lossAndGrads(patches, b.indices, init.lossKind, trainable);
  } finally {
    patches.dispose();
  }
  const { loss, grads: g } = result;
  const out = buffers.grads[replica];
  try {
    for (const [i, s] of init.segments.entries()) out.set(g[trainable[i].name].dataSync() as Float32Array, s.offset);
  } finally {
    for (const t of Object.values(g)) t.dispose();
  }
  const stats = {
    computeMs: performance.now() - start,
    startedAt: performance.timeOrigin + start,
    heapMb: wasmHeapMb(),
    kernels: takeKernelProfile(),
  };
  return { loss, stats };
}

/** This replica's share of AdamW + EMA; once every share is done, this replica's weights are reloaded. */
function updateShare(id: number, constants: AdamWStepConstants, momentum: number, round: number): void {
  const [from, to] = [init.bounds[replica], init.bounds[replica + 1]];
  try {
    kernel.applyShare(init.segments, from, to, constants, momentum);
  } finally {
    Atomics.add(sharesDone, 0, 1);
    Atomics.notify(sharesDone, 0);
  }
  port.postMessage({ id, ok: true });
  // Load while the main thread loads its own: the next step's message finds this replica ready.
  try {
    awaitShares(sharesDone, round * replicas);
    loadWeights(syncVars, layout, buffers.weights, layout.updated);
  } catch (err) {
    // The update was already acknowledged: stale weights must not compute another step, so this replica ends.
    console.error(`replica worker ${replica}: ${(err as Error).stack ?? err}`);
    process.exit(1);
  }
}

port.on("message", (msg: { id: number; type: string; batch?: StepBatch } & Record<string, unknown>) => {
  try {
    if (msg.type === "ready") {
      loadWeights(syncVars, layout, buffers.weights, everyVariable);
      port.postMessage({ id: msg.id, ok: true });
      return;
    }
    if (msg.type === "step") {
      port.postMessage({ id: msg.id, ok: true, value: computeStep(msg.batch!) });
      return;
    }
    if (msg.type === "update") {
      updateShare(msg.id, msg.constants as AdamWStepConstants, msg.momentum as number, msg.round as number);
      return;
    }
    throw new Error(`unknown message ${msg.type}`);
  } catch (err) {
    port.postMessage({ id: msg.id, ok: false, error: (err as Error).stack ?? String(err) });
  }
});
