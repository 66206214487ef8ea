// The trainer's part of a checkpoint's state.json (`state`), validated when a run is resumed: a missing section,
// a zero batch size or `optimization.lr: null` is a one-line error naming the file, never a crash later on.
import { z } from "zod";
import { BACKEND_NAMES } from "../backend.js";
import { parseConfig } from "../config/load_config.js";
import type { TrainConfig } from "../config/schema.js";
import { ConfigError, CorruptDataError, describeZodIssues } from "../errors.js";

const count = z.number().int().nonnegative();
const finite = z.number().refine(Number.isFinite, "expected a finite number");

/** Everything but `config`, which the config schema (with its consistency checks) validates. */
export const trainStateSchema = z.object({
  step: count,
  epochsCompleted: count,
  itersPerEpoch: z.number().int().positive(),
  seed: count,
  configName: z.string(),
  config: z.record(z.string(), z.unknown()),
  data: z.string().min(1),
  backend: z.enum(BACKEND_NAMES),
  replicas: z.number().int().positive(),
  optimizerStep: count,
  normalization: z.object({
    mean: z.array(finite).min(1),
    std: z.array(finite.refine((s) => s > 0, "expected a positive std")).min(1),
  }),
  schedules: z.object({ lr: finite, wd: finite, momentum: finite }),
  rng: z.object({ seed: count, streams: z.array(z.string()), nextStep: count }),
});

/**
 * Checks a resumed checkpoint's trainer state; CorruptDataError naming state.json and the field otherwise.
 * Returns the validated config (defaults filled in as when it was written).
 */
export function validateTrainState(state: unknown, stateUri: string, step: number): TrainConfig {
  const hint = `resume from another checkpoint with --resume-from <step>, or restore ${stateUri} from a backup`;
  const parsed = trainStateSchema.safeParse(state);
  if (!parsed.success) throw new CorruptDataError(stateUri, `state: ${describeZodIssues(parsed.error, "state")}`, hint);
  if (parsed.data.step !== step)
    throw new CorruptDataError(
      stateUri,
      `state.step is ${parsed.data.step}, but this is the checkpoint of step ${step}`,
      hint,
    );
  try {
    return parseConfig(parsed.data.config, "state.config");
  } catch (err) {
    if (err instanceof ConfigError) throw new CorruptDataError(stateUri, err.message.split("\n")[0], hint);
    throw err;
  }
}
