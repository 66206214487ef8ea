// The document at checkpoints/<step>/state.json: the checkpoint's files and checksums, and the trainer's state.
import { z } from "zod";
import { trainConfigSchema } from "../config/schema.js";
import { CorruptDataError, describeZodIssues } from "../errors.js";
import { MODEL_FILE, OPTIMIZER_FILE } from "./run_layout.js";

export const CHECKPOINT_FORMAT_VERSION = 1;

export const checkpointFileInfoSchema = z.object({
  /** Lower-case hex SHA-256 of the whole file. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "expected 64 lower-case hex digits"),
  sizeBytes: z.number().int().nonnegative(),
});
export type CheckpointFileInfo = z.infer<typeof checkpointFileInfoSchema>;

/**
 * The whole state.json. The writer's own state sits under `state`, so its keys never collide with ours;
 * checkpoint_store.ts checks this envelope, and the trainer's state is checked by whoever reads it
 * (parseTrainState, parseEncoderState below).
 */
export const checkpointStateDocumentSchema = z.object({
  formatVersion: z.literal(CHECKPOINT_FORMAT_VERSION),
  step: z.number().int().nonnegative(),
  epoch: z.number().int().nonnegative(),
  /** ISO time the checkpoint was written. */
  writtenAt: z.string(),
  /** Every other file of the checkpoint, by file name: model.safetensors and optimizer.safetensors. */
  files: z
    .record(z.string(), checkpointFileInfoSchema)
    .refine((files) => MODEL_FILE in files && OPTIMIZER_FILE in files, {
      message: `must list ${MODEL_FILE} and ${OPTIMIZER_FILE}`,
    }),
  state: z.record(z.string(), z.unknown()),
});

export interface CheckpointStateDocument<S = Record<string, unknown>>
  extends Omit<z.infer<typeof checkpointStateDocumentSchema>, "state"> {
  state: S;
}

const wholeNumber = z.number().int().nonnegative();
/** Per channel; a std of 0 would turn every normalised pixel into ±Infinity. */
const channelStats = z.object({
  mean: z.array(z.number()).min(1),
  std: z.array(z.number().positive("expected a positive std")).min(1),
});

/** What `ijepa train` keeps under state.json's `state` (everything else is in the safetensors files). */
export const trainStateSchema = z.object({
  step: wholeNumber,
  epochsCompleted: wholeNumber,
  itersPerEpoch: z.number().int().positive(),
  seed: wholeNumber,
  configName: z.string(),
  config: trainConfigSchema,
  data: z.string().min(1),
  /** A BackendName (backend.ts); kept a string here so that reading a state does not load TensorFlow.js. */
  backend: z.string(),
  replicas: z.number().int().positive(),
  optimizerStep: wholeNumber,
  /** Per-channel mean/std (pixels in [0, 1]) the inputs were normalised with; evaluation uses the same. */
  normalization: channelStats,
  /** Schedule values the next step will use (for inspection; they are recomputed from the step). */
  schedules: z.object({ lr: z.number(), wd: z.number(), momentum: z.number() }),
  /**
   * Every random draw is a pure function of (seed, stream name, step): masks "mask-size/<step>" and
   * "mask-position/<step>", crops "augment/<step>", data order "epoch/<e>" (or shard windows), init
   * "init/*". So the generator state to restore is the seed plus the step counter.
   */
  rng: z.object({ seed: wholeNumber, streams: z.array(z.string()), nextStep: wholeNumber }),
});
export type TrainState = z.infer<typeof trainStateSchema>;

/**
 * What evaluation and export read of a trainer's state: the config builds the model; the rest is
 * optional because checkpoints written before it was recorded lack it (normalization, for one).
 */
export const encoderStateSchema = trainStateSchema
  .pick({ config: true })
  .extend(trainStateSchema.pick({ configName: true, data: true, seed: true, normalization: true }).partial().shape);
export type EncoderState = z.infer<typeof encoderStateSchema>;

/**
 * The trainer's state to resume from; CorruptDataError naming `uri` (the state.json) and the field when it
 * is not one, or when it is the state of another step than `step`, the checkpoint's.
 */
export function parseTrainState(state: unknown, uri: string, step?: number): TrainState {
  const parsed = parseState(trainStateSchema, state, uri);
  if (step !== undefined && parsed.step !== step) {
    throw new CorruptDataError(
      uri,
      `state.step is ${parsed.step}, but this is the checkpoint of step ${step}`,
      RESUME_HINT,
    );
  }
  return parsed;
}

/** The part of a trainer's state that evaluation needs; CorruptDataError naming `uri` when it is not there. */
export function parseEncoderState(state: unknown, uri: string): EncoderState {
  return parseState(encoderStateSchema, state, uri);
}

const RESUME_HINT = "use a checkpoint written by `ijepa train`, or resume from another with --resume-from <step>";

function parseState<T>(schema: z.ZodType<T>, state: unknown, uri: string): T {
  const parsed = schema.safeParse(state);
  if (parsed.success) return parsed.data;
  // "corrupt: …/state.json: state: config.data.batch_size: Too small: …"
  throw new CorruptDataError(uri, `state: ${describeZodIssues(parsed.error, "state")}`, RESUME_HINT);
}
