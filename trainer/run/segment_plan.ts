// What the workflow does next on a run, decided from the run's state alone: probe a segment that was trained
// but never probed, train the next segment, or stop. PlanSegment (a Lambda) reads the state and calls this.
import { IjepaError } from "../errors.js";
import type { LatestPointer } from "./run_layout.js";

export type SegmentAction = "train" | "probe" | "done";

export interface RunGoal {
  /** Total epochs of the run. */
  epochs: number;
  /** Epochs per training segment. */
  segmentEpochs: number;
  /** Cap on total steps; 0 = none. */
  maxSteps: number;
}

export interface RunState {
  latest: Pick<LatestPointer, "step" | "epoch"> | undefined;
  /** Whether probe/<latest step>.json exists. */
  latestProbed: boolean;
  /** The decision made last time round in this execution ("start" before the first). */
  previous: { action: SegmentAction | "start"; step: number };
}

export interface SegmentPlan {
  action: SegmentAction;
  /** The newest checkpoint's step (0 before the first). */
  step: number;
  /** Full epochs completed. */
  doneEpochs: number;
  /** For "train": the segment ends once this many epochs are complete. */
  untilEpoch: number;
  epochs: number;
}

/** Training ran to completion but wrote no newer checkpoint: looping again would train the same segment forever. */
export class NoProgressError extends IjepaError {
  constructor(step: number) {
    super(`training made no progress past step ${step}`, "look at the trainer's log of the last TrainSegment job");
  }
}

export function planSegment(goal: RunGoal, state: RunState): SegmentPlan {
  const step = state.latest?.step ?? 0;
  const doneEpochs = state.latest?.epoch ?? 0;
  const base = { step, doneEpochs, epochs: goal.epochs, untilEpoch: doneEpochs };
  // A segment whose training finished but whose probe did not (the workflow stopped in between): probe it
  // first, before a rotation could delete the checkpoint it never scored.
  if (state.latest && !state.latestProbed) return { ...base, action: "probe" };
  const reachedCap = goal.maxSteps > 0 && step >= goal.maxSteps;
  if (doneEpochs >= goal.epochs || reachedCap) return { ...base, action: "done" };
  if (state.previous.action === "train" && step === state.previous.step) throw new NoProgressError(step);
  return { ...base, action: "train", untilEpoch: Math.min(goal.epochs, doneEpochs + goal.segmentEpochs) };
}
