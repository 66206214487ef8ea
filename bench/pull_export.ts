// Measures pull (fresh and repeated), export (both formats) and loading on a ViT-Tiny/16 at 224 px run (87 MiB of checkpoint files).
// Run: npm run bench:pull-export
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { initBackend } from "../trainer/backend.js";
import { saveCheckpoint } from "../trainer/checkpoint/checkpoint_store.js";
import type { NamedTensor } from "../trainer/checkpoint/safetensors.js";
import { loadConfigFile } from "../trainer/config/load_config.js";
import { formatBytes } from "../trainer/export/byte_size.js";
import { exportEncoder } from "../trainer/export/export_encoder.js";
import { loadExportedEncoder } from "../trainer/export/load_exported_encoder.js";
import { pullRun } from "../trainer/export/pull_run.js";
import { IJepa } from "../trainer/models/ijepa.js";
import { resolveModelDims } from "../trainer/models/model_dims.js";
import { AdamW } from "../trainer/optim/adamw.js";
import { LocalObjectStore } from "../trainer/storage/local_store.js";

async function timed<T>(label: string, run: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const result = await run();
  console.log(`${label.padEnd(44)} ${(performance.now() - start).toFixed(0).padStart(6)} ms`);
  return result;
}

const backend = await initBackend("wasm");
const root = await mkdtemp(path.join(tmpdir(), "ijepa-measure-export-"));
try {
  const config = await loadConfigFile(path.resolve(import.meta.dirname, "../configs/fmnist-vit-tiny.yaml"));
  // The official vit_tiny preset (192 wide, 12 blocks, 3 heads) on 224 px RGB in 16 px patches.
  Object.assign(config.meta, { embed_dim: undefined, depth: undefined, num_heads: undefined, pred_emb_dim: 96 });
  Object.assign(config.data, { crop_size: 224, dataset: undefined });
  config.mask.patch_size = 16;
  const dims = resolveModelDims(config, 3);
  const model = IJepa.initialise(dims, 0);
  const optimizer = new AdamW(
    [
      { prefix: "encoder.", table: model.encoder.params },
      { prefix: "predictor.", table: model.predictor.params },
    ],
    { betas: config.optimization.betas, eps: config.optimization.eps },
  );
  const named = (tensors: ReturnType<IJepa["exportState"]>): NamedTensor[] =>
    tensors.map((t) => ({ name: t.name, dtype: "F32", shape: t.shape, data: t.data }) as NamedTensor);
  const run = path.join(root, "run");
  await saveCheckpoint(new LocalObjectStore(run), {
    step: 100,
    epoch: 1,
    model: named(model.exportState()),
    optimizer: named(optimizer.exportState()),
    state: { config, configName: "vit-tiny-224", seed: 0 },
  });
  model.dispose();
  optimizer.dispose();

  console.log(`backend ${backend.name}; ViT-Tiny/16, 224 px, 3 channels`);
  const first = await timed("pull (fresh, local → local)", () =>
    pullRun({ run, which: "latest", to: path.join(root, "pulled") }),
  );
  console.log(`  ${formatBytes(first.bytesCopied)} copied`);
  await timed("pull again (nothing to copy: hashes checked)", () =>
    pullRun({ run, which: "latest", to: path.join(root, "pulled") }),
  );
  const st = await timed("export safetensors (normalisation: none)", () =>
    exportEncoder({ checkpoint: run, format: "safetensors", to: path.join(root, "st") }),
  );
  console.log(`  ${st.files.map((f) => `${f.key} ${formatBytes(f.sizeBytes)}`).join(", ")}`);
  await timed("export tfjs", () => exportEncoder({ checkpoint: run, format: "tfjs", to: path.join(root, "tfjs") }));
  await timed("loadExportedEncoder (safetensors)", () => loadExportedEncoder(path.join(root, "st")));
  await timed("loadExportedEncoder (tfjs)", () => loadExportedEncoder(path.join(root, "tfjs")));
} finally {
  await rm(root, { recursive: true, force: true });
}
