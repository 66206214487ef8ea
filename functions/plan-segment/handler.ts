// PlanSegment: reads the run's newest checkpoint and probe, and says what comes next (train / probe / done),
// with the trainer job's parameters when it is "train". The state machine only routes on `action`.
import { z } from "zod";
import { readLatestPointer } from "../../trainer/checkpoint/checkpoint_store.js";
import { probeKey } from "../../trainer/run/run_layout.js";
import { type SegmentPlan, planSegment } from "../../trainer/run/segment_plan.js";
import type { HandlerDeps } from "../handler_deps.js";
import { parseEvent } from "../parse_event.js";

const count = z.number().int().nonnegative();

export const planSegmentEventSchema = z.object({
  run: z.object({
    runId: z.string().min(1),
    runUri: z.string().min(1),
    configUri: z.string().min(1),
    epochs: z.number().int().positive(),
    segmentEpochs: z.number().int().positive(),
    maxSteps: count,
  }),
  dataset: z.object({ manifestUri: z.string().min(1) }),
  previous: z.object({ action: z.enum(["start", "train", "probe", "done"]), step: z.number().int() }),
});

export interface PlannedSegment extends SegmentPlan {
  /** The Batch job's name for this segment. */
  jobName: string;
  /** The job definition's Ref:: parameters (Batch wants strings). */
  batchParameters: { config: string; data: string; out: string; epochs: string; untilEpoch: string };
  /** IJEPA_MAX_STEPS for the trainer's container ("" = no cap). */
  maxStepsEnv: string;
}

export function makeHandler(deps: HandlerDeps) {
  return async (event: unknown): Promise<PlannedSegment> => {
    const { run, dataset, previous } = parseEvent(
      planSegmentEventSchema,
      event,
      "plan-segment",
      "{run, dataset, previous} as the state machine passes them",
    );
    const store = await deps.openStore(run.runUri);
    const latest = await readLatestPointer(store);
    const latestProbed = latest ? (await store.head(probeKey(latest.step))) !== undefined : false;
    const plan = planSegment(run, { latest, latestProbed, previous });
    return {
      ...plan,
      jobName: `${run.runId}-epoch-${plan.doneEpochs + 1}-${plan.untilEpoch}`
        .replace(/[^A-Za-z0-9_-]/g, "_")
        .slice(0, 128),
      batchParameters: {
        config: run.configUri,
        data: dataset.manifestUri,
        out: run.runUri,
        epochs: String(run.epochs),
        untilEpoch: String(plan.untilEpoch),
      },
      maxStepsEnv: run.maxSteps > 0 ? String(run.maxSteps) : "",
    };
  };
}
