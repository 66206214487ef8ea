// ReleaseLock: hands the run back at the end of an execution, only if this execution holds it, and on failure
// says what Notify publishes — naming the run even when PrepareRun refused the input.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeHandler } from "../../../functions/release-lock/handler.js";
import { acquireRunLock, readRunLock } from "../../../trainer/run/run_lock.js";
import { openStore } from "../../../trainer/storage/open_store.js";

function setup() {
  const root = mkdtempSync(path.join(tmpdir(), "ijepa-release-"));
  const now = () => new Date("2026-11-30T10:00:00Z");
  return { root, handler: makeHandler({ openStore, env: { RUNS_ROOT: root }, now }) };
}

describe("release-lock handler", () => {
  it("notifies the message of a Lambda error as AWS reports it, and any other cause as it is", async () => {
    const { handler } = setup();
    const aws = JSON.stringify({
      errorType: "NoProgressError",
      errorMessage: "training made no progress",
      trace: ["at x"],
    });
    const state = (Cause: string) => ({ run: { runUri: "/nowhere/r" }, error: { Error: "NoProgressError", Cause } });
    const fromAws = await handler({ outcome: "failed", executionName: "e", executionInput: {}, state: state(aws) });
    expect(fromAws.notification?.cause).toBe("training made no progress");
    const batch = JSON.stringify({ JobName: "j", Status: "FAILED" });
    const fromBatch = await handler({ outcome: "failed", executionName: "e", executionInput: {}, state: state(batch) });
    expect(fromBatch.notification?.cause).toBe(batch);
  });

  it("tells the user to request a G instance quota when the job queue cancelled a job no GPU instance could start for", async () => {
    const { handler } = setup();
    const cancelled = JSON.stringify({
      JobName: "run-epoch-1-1",
      Status: "FAILED",
      StatusReason: "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - Service cannot fulfill the capacity requested",
    });
    const state = { run: { runUri: "/nowhere/r" }, error: { Error: "States.TaskFailed", Cause: cancelled } };
    const result = await handler({ outcome: "failed", executionName: "e", executionInput: {}, state });
    expect(result.notification?.cause).toMatch(
      /^Batch job run-epoch-1-1 failed: CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY/,
    );
    expect(result.notification?.cause).toMatch(/request a G instance quota/);
  });

  it("releases this execution's lock after a success, and says nothing to notify", async () => {
    const { root, handler } = setup();
    const runUri = path.join(root, "r");
    await acquireRunLock(openStore(runUri), { owner: "execution:e1", ownerKind: "execution" });
    const out = await handler({
      outcome: "succeeded",
      executionName: "e1",
      executionInput: {},
      state: { run: { runUri } },
    });
    expect(out).toEqual({ runUri, released: true, notification: null, message: null });
    expect((await readRunLock(openStore(runUri)))?.state).toBe("released");
  });

  it("leaves another execution's lock alone", async () => {
    const { root, handler } = setup();
    const runUri = path.join(root, "r");
    await acquireRunLock(openStore(runUri), { owner: "execution:other", ownerKind: "execution" });
    const out = await handler({
      outcome: "failed",
      executionName: "e2",
      executionInput: {},
      state: { run: { runUri }, error: { Error: "RunLockedError", Cause: "in use" } },
    });
    expect(out.released).toBe(false);
    expect(await readRunLock(openStore(runUri))).toMatchObject({ state: "held", owner: "execution:other" });
  });

  it("names the run from the execution input when PrepareRun failed, for the notification", async () => {
    const { root, handler } = setup();
    const out = await handler({
      outcome: "failed",
      executionName: "e3",
      executionInput: { runId: "bad-input", epochs: -1 },
      state: {
        runId: "bad-input",
        epochs: -1,
        error: { Error: "ConfigError", Cause: "invalid execution input: epochs: …" },
      },
    });
    expect(out.notification).toEqual({
      runUri: path.join(root, "bad-input"),
      executionName: "e3",
      error: "ConfigError",
      cause: "invalid execution input: epochs: …",
      at: "2026-11-30T10:00:00.000Z",
    });
    expect(JSON.parse(out.message ?? "")).toEqual(out.notification);
    const unnamed = await handler({
      outcome: "failed",
      executionName: "e4",
      executionInput: { runId: "no spaces please" },
      state: { error: { Error: "ConfigError" } },
    });
    expect(unnamed.runUri).toBeNull();
    expect(unnamed.notification?.runUri).toBeNull();
  });
});
