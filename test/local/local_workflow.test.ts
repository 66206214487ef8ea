// End to end: the state machine synthesized from lib/, executed by the local runner on a folder store with the
// smoke preset on a tiny dataset — a normal run, a spot reclaim mid-segment, bad input, a locked run, a stale
// lock, and a change in lib/ (TrainSegment's timeout) that reaches the runner.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STATE } from "../../lib/training_workflow.js";
import type { RunningAttempt } from "../../local/batch_job.js";
import { type LocalExecutionOptions, startLocalExecution } from "../../local/run_local_workflow.js";
import { LOCAL_TRAINER_ENVIRONMENT } from "../../local/start_command.js";
import { readWorkflowTemplate, synthesizeTemplate, type WorkflowTemplate } from "../../local/workflow_template.js";
import { acquireRunLock, readRunLock } from "../../trainer/run/run_lock.js";
import { executionKey } from "../../trainer/run/run_layout.js";
import { openStore } from "../../trainer/storage/open_store.js";
import { writeIdxFolder } from "../data/fixtures.js";

const root = mkdtempSync(path.join(tmpdir(), "ijepa-local-wf-"));
const store = path.join(root, "store");
let source: string;
let template: WorkflowTemplate;

/** 96 train images = 6 steps of 16 per epoch; smoke checkpoints every 10 steps and at each epoch's end. */
const smoke = (runId: string, extra: Record<string, unknown> = {}) => ({
  dataset: source,
  config: "smoke",
  epochs: 4,
  probeTrainLimit: 96,
  runId,
  ...extra,
});

function run(input: unknown, options: Partial<LocalExecutionOptions> = {}) {
  const lines: string[] = [];
  const output: string[] = [];
  const { batch, ...rest } = options;
  const execution = startLocalExecution({
    template,
    input,
    root: store,
    log: (l) => lines.push(l),
    ...rest,
    batch: { localEnvironment: LOCAL_TRAINER_ENVIRONMENT, stdio: "pipe", onOutput: (c) => output.push(c), ...batch },
  });
  return execution.result.then((result) => ({ ...result, lines, output: output.join("") }));
}

const entered = (events: Array<{ type: string; state?: { name: string } }>) =>
  events.filter((e) => e.type === "StateEntered").map((e) => e.state?.name);
const runDir = (id: string) => path.join(store, id);
const modelAt = (id: string, step: number) =>
  readFileSync(path.join(runDir(id), `checkpoints/${String(step).padStart(8, "0")}/model.safetensors`));

afterAll(() => rmSync(root, { recursive: true, force: true }));

beforeAll(async () => {
  source = await writeIdxFolder(path.join(root, "src", "tiny"), { train: 96, test: 32, height: 28, width: 28 });
  template = readWorkflowTemplate(synthesizeTemplate());
});

describe("the synthesized workflow, run locally on a folder", () => {
  it("shards, trains in segments with a probe, rotation and report after each, releases the lock; again, it only checks", async () => {
    const r = await run(smoke("straight", { segmentEpochs: 2 }));
    expect(r.status, r.output).toBe("SUCCEEDED");
    const states = entered(r.events);
    expect(states.slice(0, 4)).toEqual([STATE.prepareRun, STATE.shardPlan, STATE.shardChunks, STATE.shardChunk]);
    expect(states.filter((s) => s === STATE.trainSegment)).toHaveLength(2);
    expect(states.filter((s) => s === STATE.probe)).toHaveLength(2);
    expect(states.slice(-2)).toEqual([STATE.releaseLock, STATE.succeeded]);
    expect(r.events.some((e) => e.type === "StateRetried" || e.type === "StateFailed")).toBe(false);
    for (const f of [
      "input.json",
      "config.yaml",
      "checkpoints/latest.json",
      "probe/00000012.json",
      "probe/00000024.json",
      "report/report.html",
    ]) {
      expect(existsSync(path.join(runDir("straight"), f)), f).toBe(true);
    }
    const history = JSON.parse(readFileSync(path.join(runDir("straight"), executionKey(r.executionName)), "utf8"));
    expect(history).toMatchObject({ status: "SUCCEEDED", executionName: r.executionName });
    expect(history.events.length).toBe(r.events.length);
    expect(await readRunLock(openStore(runDir("straight")))).toMatchObject({
      state: "released",
      owner: `execution:${r.executionName}`,
    });
    expect(r.lines.some((l) => /^\[\d\d:\d\d\] ▶ TrainSegment$/.test(l))).toBe(true);

    const again = await run(smoke("straight", { segmentEpochs: 2 }));
    expect(again.status).toBe("SUCCEEDED");
    expect(entered(again.events)).not.toContain(STATE.trainSegment);
    expect(entered(again.events)).not.toContain(STATE.probe);
  });

  it("retries a trainer killed by a host loss; the retry resumes and ends byte-identical to the run never interrupted", async () => {
    const attempts: number[] = [];
    const r = await run(smoke("killed", { segmentEpochs: 4 }), {
      batch: {
        onAttemptStarted: (a: RunningAttempt) => {
          attempts.push(a.attempt);
          if (a.attempt !== 1) return;
          // Once the first checkpoint is complete, the spot instance goes away: SIGKILL, and Batch says "Host EC2 …".
          a.child.stdout?.on("data", (d: Buffer) => {
            if (String(d).includes("checkpoint 00000010 written")) {
              a.markHostLost();
              a.child.kill("SIGKILL");
            }
          });
        },
      },
    });
    expect(r.status, r.output).toBe("SUCCEEDED");
    expect(attempts).toEqual([1, 2]);
    expect(r.output).toMatch(/resumed from .*step 1[02]/);
    expect(entered(r.events).filter((s) => s === STATE.trainSegment)).toHaveLength(1);
    expect(modelAt("killed", 24).equals(modelAt("straight", 24))).toBe(true);
  });

  it("fails an invalid input in PrepareRun with the console's message, and records the notification in the run", async () => {
    const r = await run({ runId: "bad-input", epochs: -1, colour: "red" });
    expect(r.status).toBe("FAILED");
    expect(r.error?.Error).toBe("ConfigError");
    expect(String(r.error?.Cause)).toMatch(/^invalid execution input: epochs: .*\(colour\)/);
    expect(entered(r.events)).toEqual([STATE.prepareRun, STATE.releaseLockOnFailure, STATE.notify, STATE.failed]);
    const notes = readFileSync(path.join(runDir("bad-input"), "notifications.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(notes).toEqual([
      expect.objectContaining({ executionName: r.executionName, error: "ConfigError", runUri: runDir("bad-input") }),
    ]);
    expect(JSON.parse(readFileSync(path.join(runDir("bad-input"), executionKey(r.executionName)), "utf8")).status).toBe(
      "FAILED",
    );
  });

  it("refuses a run whose lock a running execution holds, and leaves that lock alone", async () => {
    const run1 = openStore(runDir("locked"));
    await acquireRunLock(run1, { owner: "execution:busy", ownerKind: "execution", staleAfterSeconds: 3600 });
    await run1.put(executionKey("busy"), JSON.stringify({ status: "RUNNING", host: hostname(), pid: process.pid }));
    const r = await run(smoke("locked"));
    expect(r.status).toBe("FAILED");
    expect(r.error?.Error).toBe("RunLockedError");
    expect(String(r.error?.Cause)).toMatch(/in use by execution:busy/);
    expect(await readRunLock(run1)).toMatchObject({ state: "held", owner: "execution:busy" });
  });

  it("takes over the lock of a local execution whose process is gone", async () => {
    const run1 = openStore(runDir("straight"));
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid;
    await acquireRunLock(run1, { owner: "execution:crashed", ownerKind: "execution", staleAfterSeconds: 3600 });
    await run1.put(executionKey("crashed"), JSON.stringify({ status: "RUNNING", host: hostname(), pid: dead }));
    const r = await run(smoke("straight", { segmentEpochs: 2 }));
    expect(r.status, String(r.error?.Cause)).toBe("SUCCEEDED");
    const lock = await readRunLock(run1);
    expect(lock).toMatchObject({ state: "released", owner: `execution:${r.executionName}` });
  });

  it("runs what lib/ synthesizes: a 2 s TrainSegment timeout from the context terminates the trainer and releases the lock", async () => {
    const short = readWorkflowTemplate(synthesizeTemplate({ segmentTimeoutSeconds: 2 }));
    let trainer: RunningAttempt | undefined;
    const r = await run(smoke("timed-out"), { template: short, batch: { onAttemptStarted: (a) => (trainer = a) } });
    expect(r.status).toBe("FAILED");
    expect(r.error?.Error).toBe("States.Timeout");
    expect(r.events.find((e) => e.type === "StateFailed")).toMatchObject({ state: { name: STATE.trainSegment } });
    // The result waits for the terminated trainer (it may be writing a checkpoint) to have exited.
    expect(trainer?.child.exitCode !== null || trainer?.child.signalCode !== null).toBe(true);
    expect((await readRunLock(openStore(runDir("timed-out"))))?.state).toBe("released");
  });
});
