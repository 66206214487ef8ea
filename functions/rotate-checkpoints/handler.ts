// The rotate-checkpoints Lambda's logic: validate the event, open the run's store, apply the rotation policy.
import { z } from "zod";
import { PROBE_METRICS, type RotationResult, rotateCheckpoints } from "../../trainer/checkpoint/rotation.js";
import type { HandlerDeps } from "../handler_deps.js";
import { parseEvent } from "../parse_event.js";

const count = z.number().int().nonnegative();

/** The event: which run, and the policy. */
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

const EXAMPLE_EVENT =
  '{"run": "s3://bucket/runs/<id>", "keepLast": 3, "keepBest": 1, "keepEvery": 0} (metric and dryRun optional)';

/** Validates an event; a bad field is a ConfigError naming it. */
export function parseRotateEvent(event: unknown): RotateEvent {
  return parseEvent(rotateEventSchema, event, "rotate-checkpoints", EXAMPLE_EVENT);
}

/** The handler, with the store opener injected so tests and the local runner can use a local folder. */
export function makeHandler(deps: HandlerDeps): (event: unknown) => Promise<RotationResult> {
  return async (event) => {
    const { run, dryRun = false, ...policy } = parseRotateEvent(event);
    const store = await deps.openStore(run);
    const { kept, deleted } = await rotateCheckpoints(store, { ...policy, dryRun });
    return { kept, deleted, dryRun };
  };
}
