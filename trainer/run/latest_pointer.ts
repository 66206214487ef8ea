// The document at checkpoints/latest.json: which checkpoint is the newest complete one.
import { z } from "zod";

/** `prefix` is relative to the run, so a run can be copied or pulled elsewhere. */
export const latestPointerSchema = z.object({
  step: z.number().int().nonnegative(),
  epoch: z.number().int().nonnegative(),
  prefix: z
    .string()
    .regex(/^(?:(?!\.\.?\/)[^/]+\/)+$/, 'expected a folder relative to the run, like "checkpoints/00000120/"'),
  writtenAt: z.string(),
});
export type LatestPointer = z.infer<typeof latestPointerSchema>;
