// What the local runner relies on or works around in aws-local-stepfunctions 3.0.0 on Node 20, and how it judges
// a Batch attempt's exit the way Batch's retry strategy does.
import "../../local/promise_with_resolvers.js";
import { StateMachine } from "aws-local-stepfunctions";
import { describe, expect, it } from "vitest";
import { evaluateOnExit, substituteParameters } from "../../local/batch_job.js";
import { MAX_TIMER_SECONDS, clampTaskTimeouts } from "../../local/run_local_workflow.js";

const oneTask = (extra: Record<string, unknown>) => ({
  StartAt: "T",
  States: { T: { Type: "Task", Resource: "arn:aws:lambda:us-east-1:123456789012:function:f", End: true, ...extra } },
});

async function runTask(definition: object, handler: () => Promise<unknown>) {
  const calls: number[] = [];
  const execution = new StateMachine(definition as never).run(
    {},
    {
      overrides: { taskResourceLocalHandlers: { T: async () => (calls.push(1), (await handler()) as never) } },
    },
  );
  const result = await execution.result.then(
    (r) => ({ ok: r }),
    (e: Error) => ({ error: e }),
  );
  const events = [];
  for await (const e of execution.eventLogs) events.push(e);
  return { result, calls: calls.length, events };
}

describe("aws-local-stepfunctions 3.0.0 on this Node", () => {
  it("runs a Task's handler once and succeeds (Promise.withResolvers is there, natively or from our polyfill)", async () => {
    const r = await runTask(
      oneTask({ TimeoutSeconds: 5, Retry: [{ ErrorEquals: ["States.ALL"], MaxAttempts: 2, IntervalSeconds: 0 }] }),
      async () => ({ done: true }),
    );
    expect(r.result).toEqual({ ok: { done: true } });
    expect(r.calls).toBe(1);
  });

  it("fires a timeout beyond Node's timer range at once, which clamping prevents", async () => {
    const huge = oneTask({ TimeoutSeconds: 3_000_000 });
    const slow = () => new Promise((resolve) => setTimeout(() => resolve("late"), 50));
    const unclamped = await runTask(huge, slow);
    expect((unclamped.result as { error: Error }).error.message).toMatch(/States\.Timeout/);
    const clamped = await runTask(clampTaskTimeouts(structuredClone(huge)), slow);
    expect(clamped.result).toEqual({ ok: "late" });
    expect((clampTaskTimeouts(structuredClone(huge)).States.T as { TimeoutSeconds?: number }).TimeoutSeconds).toBe(
      MAX_TIMER_SECONDS,
    );
  }, 20_000);

  it('stores a written-out ResultPath "$" under a key named "$" (so the workflow leaves it out)', async () => {
    const r = await runTask(oneTask({ TimeoutSeconds: 5, ResultPath: "$" }), async () => ({ x: 1 }));
    expect(r.result).toEqual({ ok: { $: { x: 1 } } });
  });
});

describe("evaluateOnExit, as Batch applies the job definition's retry strategy", () => {
  const strategy = [
    { Action: "RETRY", OnStatusReason: "Host EC2*" },
    { Action: "RETRY", OnReason: "CannotPullContainerError:*" },
    { Action: "EXIT", OnReason: "*" },
  ];

  it("retries a lost host and an image pull failure, and exits on anything else", () => {
    expect(
      evaluateOnExit(strategy, { exitCode: 137, statusReason: "Host EC2 (instance i-1) terminated.", reason: "" }),
    ).toBe("RETRY");
    expect(
      evaluateOnExit(strategy, {
        exitCode: null,
        statusReason: "Task failed to start",
        reason: "CannotPullContainerError: pull access denied",
      }),
    ).toBe("RETRY");
    expect(
      evaluateOnExit(strategy, { exitCode: 1, statusReason: "Essential container in task exited", reason: "" }),
    ).toBe("EXIT");
  });

  it("retries when no entry matches, as Batch does", () => {
    expect(evaluateOnExit([{ Action: "EXIT", OnExitCode: "2" }], { exitCode: 1, statusReason: "", reason: "" })).toBe(
      "RETRY",
    );
  });

  it("substitutes whole-argument Ref:: parameters only", () => {
    expect(substituteParameters(["--out", "Ref::out", "x-Ref::out", "Ref::missing"], { out: "s3://b/r" })).toEqual([
      "--out",
      "s3://b/r",
      "x-Ref::out",
      "Ref::missing",
    ]);
  });
});
