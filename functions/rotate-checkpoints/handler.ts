// The rotate-checkpoints Lambda's logic: validate the event, open the run's store, apply the rotation policy.
import { z } from "zod";
import { ConfigError, describeZodIssues } from "../../trainer/errors.js";
import type { ObjectStore } from "../../trainer/storage/object_store.js";
import { PROBE_METRICS, type RotationResult, rotateCheckpoints } from "../../trainer/checkpoint/rotation.js";

const count = z.number().int().nonnegative();

/** The event (and the `ijepa rotate` options): which run, and the policy. */
export const rotateEventSchema = z.object({
  /** The run's base URI: s3://bucket/runs/<runId> or a local folder. */
  run: z.string().min(1),
  keepLast: count,
  keepBest: count,
  keepEvery: count,
  metric: z.enum(PROBE_METRICS).optional(),
  dryRun: z.boolean().optional(),
});

export type RotateEvent = z.infer<typeof rotateEventSchema>;

export type OpenStore = (uri: string) => ObjectStore | Promise<ObjectStore>;

/** Validates an event; a bad field is a ConfigError naming it. */
export function parseRotateEvent(event: unknown): RotateEvent {
  const parsed = rotateEventSchema.safeParse(event);
  if (!parsed.success) {
    const problems = describeZodIssues(parsed.error, "event");
    throw new ConfigError(
      `invalid rotate-checkpoints event: ${problems}`,
      'send {"run": "s3://bucket/runs/<id>", "keepLast": 3, "keepBest": 1, "keepEvery": 0} (metric and dryRun optional)',
    );
  }
  return parsed.data;
}

/** The handler, with the store opener injected so tests can run it on a local folder. */
export function makeHandler(openStore: OpenStore): (event: unknown) => Promise<RotationResult> {
  return async (event) => {
    const { run, dryRun, ...policy } = parseRotateEvent(event);
    const store = await openStore(run);
    const { kept, deleted } = await rotateCheckpoints(store, { ...policy, dryRun: dryRun ?? false });
    return { kept, deleted, dryRun: dryRun ?? false };
  };
}
