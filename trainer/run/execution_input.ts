// The execution input: the small JSON a user pastes into the Step Functions console, gives `ijepa aws start
// --input`, or `npm start` builds from its flags. One schema, checked by the PrepareRun Lambda for all three.
import { z } from "zod";
import { ConfigError, describeZodIssues } from "../errors.js";

/** The built-in dataset: downloaded (cached) and sharded by ShardDataset. */
export const BUILTIN_DATASET = "fashion-mnist";

/**
 * The raw formats ShardDataset reads (trainer/data/shard_input.ts's SOURCE_FORMATS), written out here because the
 * run contract sits below data/ in the import layers; a test keeps the two lists equal.
 */
export const DATASET_FORMATS = ["idx", "cifar", "imagefolder"] as const;

const runIdPattern = /^[A-Za-z0-9._-]{1,100}$/;

export const executionInputSchema = z.strictObject({
  /**
   * `fashion-mnist`, or where a raw dataset is: `s3://bucket/prefix` on AWS (a folder path locally).
   * ShardDataset shards it once into the datasets bucket under `datasets/<name>/`.
   */
  dataset: z.string().min(1).default(BUILTIN_DATASET),
  /** Format of a raw dataset that is not `fashion-mnist`: idx, cifar or imagefolder. */
  format: z.enum(DATASET_FORMATS).default("idx"),
  /** A preset name from configs/ (smoke, fmnist-vit-tiny, bench-config-a, in1k-vith14) or a YAML file's URI. */
  config: z.string().min(1).default("fmnist-vit-tiny"),
  /** Total epochs of the run (overrides the preset's optimization.epochs; the schedules span them). */
  epochs: z.number().int().positive().max(100_000).optional(),
  /** The run's folder name under the runs bucket; default `<dataset>-<config>`. Same id again = resume. */
  runId: z.string().regex(runIdPattern, "letters, digits, '.', '_' and '-' only (1-100)").optional(),
  /** Epochs per training segment (one Batch job); a probe, a rotation and a report follow each segment. */
  segmentEpochs: z.number().int().positive().max(100_000).default(1),
  /** Cap on the total number of steps, for a quick look (the schedules still span all epochs). */
  maxSteps: z.number().int().positive().optional(),
  /** Train images the linear probe fits on after each segment; default: the config's logging.probe_train_limit. */
  probeTrainLimit: z.number().int().positive().max(1_000_000).optional(),
  /** Test images the probe scores (the first N; 0 = all); default: the config's logging.probe_test_limit. */
  probeTestLimit: z.number().int().nonnegative().max(1_000_000).optional(),
  /** Rotation: keep the newest `keepLast` checkpoints … */
  keepLast: z.number().int().nonnegative().max(1000).default(2),
  /** … and the `keepBest` best by probe top-1 … */
  keepBest: z.number().int().nonnegative().max(1000).default(1),
  /** … and every checkpoint whose step is a multiple of `keepEvery` (0 = none). */
  keepEvery: z.number().int().nonnegative().default(0),
});

/** What a user may write (defaults omitted). */
export type ExecutionInputJson = z.input<typeof executionInputSchema>;
/** The input with defaults filled in. */
export type ExecutionInput = z.output<typeof executionInputSchema>;

export const EXECUTION_INPUT_HINT =
  'give a JSON object such as {"dataset": "fashion-mnist", "config": "fmnist-vit-tiny", "epochs": 100} ' +
  "(fields: dataset, format, config, epochs, runId, segmentEpochs, maxSteps, probeTrainLimit, probeTestLimit, keepLast, keepBest, keepEvery)";

/** Validates the input; a bad field is one ConfigError line naming it, the same in the console and locally. */
export function parseExecutionInput(raw: unknown): ExecutionInput {
  const parsed = executionInputSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    throw new ConfigError(`invalid execution input: ${describeZodIssues(parsed.error, "input")}`, EXECUTION_INPUT_HINT);
  }
  return parsed.data;
}

/** The dataset's name under the datasets bucket: `fashion-mnist`, or the source's last path segment. */
export function datasetName(input: Pick<ExecutionInput, "dataset">): string {
  if (input.dataset === BUILTIN_DATASET) return BUILTIN_DATASET;
  const last =
    input.dataset
      .replace(/[/\\]+$/, "")
      .split(/[/\\]/)
      .pop() ?? "";
  const name = last.replace(/[^A-Za-z0-9._-]/g, "-");
  if (name === "" || name === "." || name === "..") {
    throw new ConfigError(
      `dataset: ${JSON.stringify(input.dataset)} has no folder name to call it by`,
      "give a folder or prefix such as s3://bucket/raw/my-images",
    );
  }
  return name;
}

/** `<dataset>-<config>` unless the input names the run. */
export function defaultRunId(input: Pick<ExecutionInput, "dataset" | "config" | "runId">): string {
  if (input.runId) return input.runId;
  const config = (
    input.config
      .replace(/[/\\]+$/, "")
      .split(/[/\\]/)
      .pop() ?? input.config
  ).replace(/\.ya?ml$/, "");
  return `${datasetName(input)}-${config}`.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 100);
}

/**
 * The run an input names, when its dataset, config and runId fields are valid even if others are not (an
 * invalid input's failure is still recorded in its run); undefined when they do not name one.
 */
export function runIdOfRawInput(raw: unknown): string | undefined {
  if (raw !== undefined && raw !== null && (typeof raw !== "object" || Array.isArray(raw))) return undefined;
  const fields = (raw ?? {}) as Record<string, unknown>;
  const naming = executionInputSchema
    .pick({ dataset: true, config: true, runId: true })
    .safeParse({ dataset: fields.dataset, config: fields.config, runId: fields.runId });
  if (!naming.success) return undefined;
  try {
    return defaultRunId(naming.data);
  } catch {
    return undefined;
  }
}
