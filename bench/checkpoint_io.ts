// Measures safetensors encode/decode throughput (100 MiB of F32) and checkpoint save/load time (~25 MB) on a local folder.
// Run: npm run bench:checkpoint-io
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from "../trainer/checkpoint/safetensors.js";
import { loadCheckpoint, saveCheckpoint } from "../trainer/checkpoint/checkpoint_store.js";
import { LocalObjectStore } from "../trainer/storage/local_store.js";

const MIB = 1024 * 1024;
const REPEATS = 5;

function f32Tensors(prefix: string, totalBytes: number, count: number): NamedTensor[] {
  const perTensor = Math.floor(totalBytes / 4 / count);
  return Array.from({ length: count }, (_, i) => ({
    name: `${prefix}.${i}.weight`,
    dtype: "F32" as const,
    shape: [perTensor],
    data: Float32Array.from({ length: perTensor }, (_, j) => Math.sin(i + j)),
  }));
}

async function medianMs(run: () => unknown | Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[Math.floor(REPEATS / 2)];
}

const big = f32Tensors("blocks", 100 * MIB, 100);
const encoded = encodeSafetensors(big);
const encodeMs = await medianMs(() => encodeSafetensors(big));
const decodeMs = await medianMs(() => decodeSafetensors(encoded, "bench"));
const misaligned = new Uint8Array(encoded.length + 1);
misaligned.set(encoded, 1);
const decodeCopyMs = await medianMs(() => decodeSafetensors(misaligned.subarray(1), "bench"));
const mb = encoded.length / 1e6;
console.log(
  `safetensors, ${(encoded.length / MIB).toFixed(1)} MiB of F32 in ${big.length} tensors (median of ${REPEATS}):`,
);
console.log(`  encode                 ${encodeMs.toFixed(1)} ms  ${(mb / (encodeMs / 1000)).toFixed(0)} MB/s`);
console.log(`  decode (aligned views) ${decodeMs.toFixed(1)} ms  ${(mb / (decodeMs / 1000)).toFixed(0)} MB/s`);
console.log(`  decode (copying)       ${decodeCopyMs.toFixed(1)} ms  ${(mb / (decodeCopyMs / 1000)).toFixed(0)} MB/s`);

// Model 1/3, AdamW moments 2/3 of ~25 MB, as in a real checkpoint.
const model = f32Tensors("encoder", (25e6 / 3) | 0, 40);
const optimizer = [...f32Tensors("adamw.m", (25e6 / 3) | 0, 40), ...f32Tensors("adamw.v", (25e6 / 3) | 0, 40)];
const folder = await mkdtemp(path.join(tmpdir(), "ijepa-bench-ckpt-"));
try {
  const store = new LocalObjectStore(folder);
  let step = 0;
  const saveMs = await medianMs(() =>
    saveCheckpoint(store, { step: ++step, epoch: 0, model, optimizer, state: { step } }),
  );
  const loadMs = await medianMs(() => loadCheckpoint(store, "latest"));
  const bytes =
    (await store.head("checkpoints/00000001/model.safetensors"))!.sizeBytes +
    (await store.head("checkpoints/00000001/optimizer.safetensors"))!.sizeBytes;
  console.log(`checkpoint of ${(bytes / 1e6).toFixed(1)} MB to ${tmpdir()} (median of ${REPEATS}):`);
  console.log(`  save (encode, sha256, write+fsync, head, state.json, publish)  ${saveMs.toFixed(1)} ms`);
  console.log(`  load (read, sha256 verify, decode)                             ${loadMs.toFixed(1)} ms`);
} finally {
  await rm(folder, { recursive: true, force: true });
}
