// `ijepa export` for a terminal: runs the export and prints what was written and how to load it.
import { currentBackend, initBackend } from "../backend.js";
import type { ObjectStore } from "../storage/object_store.js";
import { formatBytes } from "./byte_size.js";
import { type ExportResult, exportEncoder } from "./export_encoder.js";
import { type ExportFormat, README_FILE } from "./export_files.js";

/** The command's flags, as the CLI parses them. */
export interface ExportCommandOptions {
  checkpoint: string;
  format: string;
  to: string;
  /** Per-channel input mean and std, for when the training data cannot be reached (both or neither). */
  mean?: number[];
  std?: number[];
  /** Overwrite files of the export's names that an earlier export of this format did not write. */
  force?: boolean;
}

export interface ExportCommandIo {
  stdout: { write(text: string): unknown };
  /** Defaults to trainer/storage/open_store.ts's openStore. */
  openStore?: (uri: string) => ObjectStore;
}

const defaultIo: ExportCommandIo = { stdout: process.stdout };

export async function runExportCommand(opts: ExportCommandOptions, io: ExportCommandIo = defaultIo): Promise<ExportResult> {
  if (opts.format === "tfjs") await ensureBackend();
  const normalization = opts.mean !== undefined || opts.std !== undefined ? { mean: opts.mean ?? [], std: opts.std ?? [] } : undefined;
  const format = opts.format as ExportFormat;
  const options = { checkpoint: opts.checkpoint, format, to: opts.to, normalization, force: opts.force };
  const result = await exportEncoder(options, { openStore: io.openStore });
  for (const line of formatExport(result)) io.stdout.write(line + "\n");
  return result;
}

/** The files written, the encoder's dims and normalisation, and where the loading code is. */
export function formatExport(result: ExportResult): string[] {
  const c = result.config;
  const n = c.normalization;
  return [
    `exported the target encoder of ${c.source} (step ${c.step}) as ${result.format} to ${result.to}:`,
    ...result.files.map((f) => `  ${f.uri} (${formatBytes(f.sizeBytes)})`),
    `${c.model_name}${c.official_preset ? "" : " dims"}: ${c.embed_dim} wide, ${c.depth} blocks, ${c.num_heads} heads, ${c.img_size}×${c.img_size}×${c.in_chans} input in ${c.patch_size}px patches`,
    n
      ? `inputs: (x/255 − mean) / std with mean ${JSON.stringify(n.mean)}, std ${JSON.stringify(n.std)} (from ${n.source})`
      : `warning: input normalisation unknown (${result.normalizationMissing}); pass --mean and --std to record it`,
    `how to load it: ${result.files.find((f) => f.key === README_FILE)?.uri ?? README_FILE}`,
  ];
}

/** Encoding tfjs weights needs some backend to hold tensors; keep the one this process chose, if any. */
async function ensureBackend(): Promise<void> {
  try {
    currentBackend();
  } catch {
    await initBackend("cpu");
  }
}
