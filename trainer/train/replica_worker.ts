// One data-parallel replica in a worker thread: receives weights and a batch slice, returns loss and gradients.
import * as tf from "@tensorflow/tfjs-core";
import { parentPort, workerData } from "node:worker_threads";
import { initBackend } from "../backend.js";
import { IJepa } from "../models/ijepa.js";
import { profilingRequested, startKernelProfile, takeKernelProfile, wasmHeapMb } from "../kernels/kernel_profiler.js";
import type { ReplicaWorkerInit, StepBatch } from "./gradient_engine.js";

const { init, layout } = workerData as { init: ReplicaWorkerInit; layout: { shapes: number[][]; offsets: number[] } };
const port = parentPort!;

await initBackend(init.backend);
if (profilingRequested()) startKernelProfile();
// Every trainable weight (and the whole target encoder) is overwritten from main's before each step.
const model = IJepa.blank(init.dims);
const trainable = model.trainableVariables();
const syncVars = [...trainable, ...model.targetEncoder.params.specs.map((s) => model.targetEncoder.params.get(s.name))];
if (syncVars.length !== layout.shapes.length || trainable.length !== init.trainableCount) {
  throw new Error("replica worker: the model's variables do not match the main process's");
}
const weights = new Float32Array(init.weights);
const grads = new Float32Array(init.grads);

function loadWeights(): void {
  tf.tidy(() => {
    syncVars.forEach((v, i) => {
      const size = v.size;
      v.assign(tf.tensor(weights.subarray(layout.offsets[i], layout.offsets[i] + size), v.shape));
    });
  });
}

port.on("message", (msg: { id: number; type: string; batch?: StepBatch }) => {
  try {
    if (msg.type === "ready") {
      port.postMessage({ id: msg.id, ok: true });
      return;
    }
    if (msg.type === "step") {
      const start = performance.now();
      takeKernelProfile(); // this step's profile starts here, loading the weights included
      loadWeights();
      const b = msg.batch!;
      const patches = tf.tensor2d(b.patches, [b.patches.length / b.patchWidth, b.patchWidth]);
      let result: ReturnType<typeof model.lossAndGrads>;
      try {
        result = model.lossAndGrads(patches, b.indices, init.lossKind, trainable);
      } finally {
        patches.dispose();
      }
      const { loss, grads: g } = result;
      let offset = 0;
      for (const v of trainable) {
        grads.set(g[v.name].dataSync() as Float32Array, offset);
        offset += v.size;
      }
      for (const t of Object.values(g)) t.dispose();
      const stats = { computeMs: performance.now() - start, heapMb: wasmHeapMb(), kernels: takeKernelProfile() };
      port.postMessage({ id: msg.id, ok: true, value: { loss, stats } });
      return;
    }
    throw new Error(`unknown message ${msg.type}`);
  } catch (err) {
    port.postMessage({ id: msg.id, ok: false, error: (err as Error).stack ?? String(err) });
  }
});
