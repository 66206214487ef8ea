// ReleaseLock: hands the run back at the end of an execution, and on failure writes what the Notify state
// publishes ({runUri, executionName, error, cause}). Never fails for a run it cannot name (invalid input).
import { z } from "zod";
import { explainBatchFailure } from "../../trainer/aws/batch_job_reasons.js";
import { runIdOfRawInput } from "../../trainer/run/execution_input.js";
import { releaseRunLock } from "../../trainer/run/run_lock.js";
import { joinUri } from "../../trainer/storage/open_store.js";
import type { HandlerDeps } from "../handler_deps.js";
import { parseEvent } from "../parse_event.js";
import { executionOwner, requireRoot } from "../workflow_env.js";

export const releaseLockEventSchema = z.object({
  outcome: z.enum(["succeeded", "failed"]),
  executionName: z.string().min(1),
  /** The context object's Execution.Input, to name the run when PrepareRun failed before it could. */
  executionInput: z.unknown(),
  /** The workflow's state: `run` once PrepareRun succeeded, `error` ({Error, Cause}) when a Catch led here. */
  state: z.looseObject({
    run: z.object({ runUri: z.string().min(1) }).optional(),
    error: z.object({ Error: z.string(), Cause: z.string().optional() }).optional(),
  }),
});

export interface FailureNotification {
  runUri: string | null;
  executionName: string;
  error: string;
  cause: string;
  at: string;
}

export interface ReleaseResult {
  runUri: string | null;
  released: boolean;
  notification: FailureNotification | null;
  /** The notification as the SNS message's text (serialized here: the state machine only routes). */
  message: string | null;
}

export function makeHandler(deps: HandlerDeps) {
  return async (event: unknown): Promise<ReleaseResult> => {
    const { outcome, executionName, executionInput, state } = parseEvent(
      releaseLockEventSchema,
      event,
      "release-lock",
      "{outcome, executionName, executionInput, state} as the state machine passes them",
    );
    const runUri = state.run?.runUri ?? runOfInput(executionInput, deps.env);
    // releaseRunLock changes nothing unless this execution holds the lock, so trying is always safe.
    const released = runUri
      ? await releaseRunLock(await deps.openStore(runUri), executionOwner(executionName), deps.now)
      : false;
    const notification =
      outcome === "failed"
        ? {
            runUri,
            executionName,
            error: state.error?.Error ?? "UnknownError",
            cause: readableCause(state.error?.Cause ?? ""),
            at: deps.now().toISOString(),
          }
        : null;
    return { runUri, released, notification, message: notification ? JSON.stringify(notification) : null };
  };
}

/**
 * A Lambda's failure reaches the Catch on AWS as `{"errorType", "errorMessage", "trace"}` (locally: the message);
 * the notification carries the message either way. A failed Batch job reaches it as the job's description: the
 * notification then says what to do about its status reason (e.g. "request a G instance quota" when the job queue
 * cancelled a job no GPU instance could start for).
 */
export function readableCause(cause: string): string {
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown; StatusReason?: unknown; JobName?: unknown };
    if (parsed && typeof parsed.errorMessage === "string") return parsed.errorMessage;
    if (parsed && typeof parsed.StatusReason === "string") {
      const job = typeof parsed.JobName === "string" ? `Batch job ${parsed.JobName}` : "the Batch job";
      return `${job} failed: ${parsed.StatusReason}; ${explainBatchFailure(parsed.StatusReason).hint}`;
    }
  } catch {
    // not JSON: already the message
  }
  return cause;
}

function runOfInput(raw: unknown, env: HandlerDeps["env"]): string | null {
  const runId = runIdOfRawInput(raw);
  return runId && env.RUNS_ROOT ? joinUri(requireRoot(env, "RUNS_ROOT"), runId) : null;
}
