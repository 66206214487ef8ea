// How long each preset's checkpoint takes to write to S3, measured on a local radosgw (test/support/s3_server.ts),
// split into the CPU part (safetensors encoding + SHA-256, as on the GPU instance) and the upload; extrapolated to EC2.
// Run: npm run bench:checkpoint-upload [-- preset ...]
// (needs the ceph packages: apt-get install ceph-mon ceph-osd radosgw ceph-common)
import { createHash } from "node:crypto";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { saveCheckpoint } from "../trainer/checkpoint/checkpoint_store.js";
import { encodeSafetensors, type NamedTensor } from "../trainer/checkpoint/safetensors.js";
import { loadConfigFile } from "../trainer/config/load_config.js";
import { S3ObjectStore } from "../trainer/storage/s3_store.js";
import { estimateTrainingMemory } from "../trainer/train/gpu_memory.js";
import { startS3Server } from "../test/support/s3_server.js";

const MB = 1e6;
/** Assumed S3 throughput from a g5.xlarge/g6.xlarge through the gateway endpoint with 4 parallel 8 MiB parts. */
const EC2_S3_MBPS = 200;
const presets = process.argv.slice(2).length
  ? process.argv.slice(2)
  : ["smoke", "fmnist-vit-tiny", "gpu-vits16-224", "gpu-vitb16-224"];
const REPEATS = 3;
const GIB = 1024 ** 3;
/** The memstore OSD keeps objects in RAM, and radosgw frees deleted ones only hours later (garbage collection). */
const MAX_MEMSTORE_BYTES = 6 * GIB;

/** `count` float32 values split into tensors of about 4 M values (layer-sized). */
function tensors(prefix: string, count: number): NamedTensor[] {
  const per = 4_000_000;
  const out: NamedTensor[] = [];
  for (let i = 0, left = count; left > 0; i++, left -= per) {
    const n = Math.min(per, left);
    const data = new Float32Array(n);
    for (let j = 0; j < n; j += 97) data[j] = Math.sin(i + j);
    out.push({ name: `${prefix}.${i}`, dtype: "F32", shape: [n], data });
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(
  `${REPEATS} checkpoints per preset (fewer when they would not fit ${MAX_MEMSTORE_BYTES / GIB} GiB of radosgw memstore), median;`,
);
console.log(`EC2 upload assumed ${EC2_S3_MBPS} MB/s (estimate)`);
console.log("preset | params (enc+pred) | checkpoint MB | encode+sha256 s | local save s (MB/s) | EC2 estimate s");
for (const name of presets) {
  const config = await loadConfigFile(path.resolve("configs", `${name}.yaml`));
  const channels = config.data.crop_size >= 64 ? 3 : 1;
  const e = estimateTrainingMemory(config, channels);
  // model.safetensors: encoder, predictor, target encoder; optimizer.safetensors: AdamW m and v of encoder + predictor.
  const model = [
    ...tensors("encoder", e.encoderParams),
    ...tensors("predictor", e.predictorParams),
    ...tensors("target", e.encoderParams),
  ];
  const optimizer = [
    ...tensors("m", e.encoderParams + e.predictorParams),
    ...tensors("v", e.encoderParams + e.predictorParams),
  ];
  const bytes = 4 * (2 * e.encoderParams + e.predictorParams + 2 * (e.encoderParams + e.predictorParams));
  const repeats = Math.max(1, Math.min(REPEATS, Math.floor((MAX_MEMSTORE_BYTES - GIB) / (1.3 * bytes))));
  // A fresh radosgw per preset, sized for its checkpoints.
  const server = await startS3Server({
    memstoreBytes: Math.floor(Math.min(MAX_MEMSTORE_BYTES, Math.max(2 * GIB, repeats * 1.3 * bytes + GIB))),
  });
  try {
    const client = new S3Client({
      endpoint: server.endpoint,
      region: server.region,
      forcePathStyle: true,
      credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    });
    const bucket = `bench-ckpt-${Date.now()}`;
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    const cpu: number[] = [];
    const total: number[] = [];
    for (let r = 0; r < repeats; r++) {
      let t = performance.now();
      for (const file of [encodeSafetensors(model), encodeSafetensors(optimizer)])
        createHash("sha256").update(file).digest("hex");
      cpu.push((performance.now() - t) / 1000);
      const store = new S3ObjectStore({ bucket, prefix: `${name}/${r}`, client });
      t = performance.now();
      await saveCheckpoint(store, { step: 100 + r, epoch: 0, model, optimizer, state: { preset: name } });
      total.push((performance.now() - t) / 1000);
    }
    const c = median(cpu);
    const s = median(total);
    const ec2 = c + bytes / MB / EC2_S3_MBPS;
    console.log(
      `${name} | ${(e.encoderParams / 1e6).toFixed(1)}M+${(e.predictorParams / 1e6).toFixed(1)}M | ${(bytes / MB).toFixed(0)} | ${c.toFixed(2)} | ${s.toFixed(2)} (${(bytes / MB / s).toFixed(0)}) | ${ec2.toFixed(1)}  [${repeats}×]`,
    );
  } finally {
    await server.stop();
  }
}
