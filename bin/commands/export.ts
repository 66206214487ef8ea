// `ijepa export`: its flags, the export of a checkpoint's target encoder, and what was written and how to load it.
import { type Command, Option } from "commander";
import type { ExportResult } from "../../trainer/export/export_encoder.js";
import { EXPORT_FORMATS, type ExportFormat, README_FILE } from "../../trainer/export/export_files.js";
import { formatBytes } from "../../trainer/export/byte_size.js";
import type { ObjectStore } from "../../trainer/storage/object_store.js";
import { numbers } from "./flag_parsers.js";

export function registerExport(program: Command): void {
  program
    .command("export")
    .description(
      "export a checkpoint's target encoder: safetensors with the official PyTorch names (load_state_dict), " +
        "or TensorFlow.js weights",
    )
    .requiredOption("--checkpoint <uri>", "a run (its latest checkpoint) or one checkpoint folder, local or s3://")
    .addOption(
      new Option("--format <format>", "safetensors (PyTorch) or tfjs").choices(EXPORT_FORMATS).makeOptionMandatory(),
    )
    .requiredOption("--to <dir|uri>", "output folder")
    .option("--mean <m,...>", "per-channel input mean, when the checkpoint does not record it", numbers("--mean"))
    .option("--std <s,...>", "per-channel input std, when the checkpoint does not record it", numbers("--std"))
    .option("--force", "overwrite a README.md (or weights, config) in --to that an earlier export did not write")
    .action(async (o) => {
      const force = Boolean(o.force);
      await runExportCommand({ checkpoint: o.checkpoint, format: o.format, to: o.to, mean: o.mean, std: o.std, force });
    });
}

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

export async function runExportCommand(
  opts: ExportCommandOptions,
  io: ExportCommandIo = defaultIo,
): Promise<ExportResult> {
  // Loaded when the command runs, not whenever the CLI starts.
  const { exportEncoder } = await import("../../trainer/export/export_encoder.js");
  if (opts.format === "tfjs") await ensureBackend();
  const normalization =
    opts.mean !== undefined || opts.std !== undefined ? { mean: opts.mean ?? [], std: opts.std ?? [] } : undefined;
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
  const { currentBackend, initBackend } = await import("../../trainer/backend.js");
  try {
    currentBackend();
  } catch {
    await initBackend("cpu");
  }
}
