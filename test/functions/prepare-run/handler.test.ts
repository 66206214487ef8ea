// PrepareRun on a local folder: the console input validated with one-line errors, the preset resolved and written,
// and the run lock: taken, refused to a second execution, taken over from one that is no longer running.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { HandlerDeps } from "../../../functions/handler_deps.js";
import { makeHandler } from "../../../functions/prepare-run/handler.js";
import { executionRunningOnAws, siblingExecutionArn } from "../../../functions/prepare-run/execution_status.js";
import { saveCheckpoint } from "../../../trainer/checkpoint/checkpoint_store.js";
import { ConfigError } from "../../../trainer/errors.js";
import { RunLockedError, readRunLock, releaseRunLock } from "../../../trainer/run/run_lock.js";
import { openStore } from "../../../trainer/storage/open_store.js";
import { sampleCheckpoint } from "../../checkpoint/fixtures.js";

const ARN = "arn:aws:states:eu-west-1:123456789012:execution:Ijepa-Training:";

function setup() {
  const root = mkdtempSync(path.join(tmpdir(), "ijepa-prepare-"));
  const deps: HandlerDeps = {
    openStore,
    env: { RUNS_ROOT: root, DATASETS_ROOT: root },
    now: () => new Date("2026-11-30T10:00:00Z"),
  };
  const event = (name: string, input: unknown) => ({ input, executionName: name, executionId: `${ARN}${name}` });
  return { root, deps, event };
}

describe("prepare-run handler", () => {
  it("resolves the preset, writes input.json and config.yaml, takes the lock and returns only pointers", async () => {
    const { root, deps, event } = setup();
    const out = await makeHandler(deps)(event("exec-1", { config: "smoke", epochs: 3, maxSteps: 40 }));
    expect(out.run).toMatchObject({
      runId: "fashion-mnist-smoke",
      runUri: path.join(root, "fashion-mnist-smoke"),
      epochs: 3,
      maxSteps: 40,
      segmentEpochs: 1,
      // The smoke preset's probe sizes, as the input gives none.
      probeTrainLimit: 1000,
      probeTestLimit: 1000,
      lockOwner: "execution:exec-1",
    });
    expect(out.shard).toEqual({
      source: "fashion-mnist",
      format: "idx",
      output: path.join(root, "datasets/fashion-mnist"),
      name: "fashion-mnist",
    });
    const run = path.join(root, "fashion-mnist-smoke");
    expect(readFileSync(path.join(run, "config.yaml"), "utf8")).toMatch(/epochs: 3/);
    expect(JSON.parse(readFileSync(path.join(run, "input.json"), "utf8"))).toMatchObject({
      config: "smoke",
      epochs: 3,
      executionName: "exec-1",
    });
    expect(await readRunLock(openStore(run))).toMatchObject({
      state: "held",
      owner: "execution:exec-1",
      ownerKind: "execution",
    });
    expect(JSON.stringify(out).length).toBeLessThan(2000);
  });

  it("takes the probe sizes from the input over the config's, and the full-size preset's 10,000 / whole test split", async () => {
    const { deps, event } = setup();
    const given = await makeHandler(deps)(event("exec-1", { config: "smoke", probeTrainLimit: 77, probeTestLimit: 0 }));
    expect(given.run).toMatchObject({ probeTrainLimit: 77, probeTestLimit: 0 });
    const full = await makeHandler(deps)(event("exec-2", { config: "fmnist-vit-tiny" }));
    expect(full.run).toMatchObject({ probeTrainLimit: 10_000, probeTestLimit: 0 });
  });

  it("refuses an invalid input with one line naming each bad field, before touching the store", async () => {
    const { deps, event } = setup();
    const err = await makeHandler(deps)(event("exec-1", { epochs: -2, runId: "has space", colour: "red" })).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message.split("\n")[0]).toMatch(
      /^invalid execution input: .*epochs: .*runId: letters, digits.*\(colour\)/,
    );
  });

  it("names the known presets when asked for one that does not exist", async () => {
    const { deps, event } = setup();
    await expect(makeHandler(deps)(event("e", { config: "fmnist-vit-huge" }))).rejects.toThrow(
      /no preset named "fmnist-vit-huge".*smoke/s,
    );
  });

  it("refuses a second execution while the first runs, and lets the same execution retry", async () => {
    const { deps, event } = setup();
    const running = async () => true;
    const prepare = makeHandler(deps, { isExecutionRunning: running });
    await prepare(event("first", { config: "smoke", runId: "r" }));
    const err = await prepare(event("second", { config: "smoke", runId: "r" })).catch((e) => e);
    expect(err).toBeInstanceOf(RunLockedError);
    expect(err.message).toMatch(/in use by execution:first/);
    await expect(prepare(event("first", { config: "smoke", runId: "r" }))).resolves.toMatchObject({
      run: { lockOwner: "execution:first" },
    });
  });

  it("takes over the lock of an execution that is no longer RUNNING, asking about it by its ARN", async () => {
    const { root, deps, event } = setup();
    await makeHandler(deps)(event("crashed", { config: "smoke", runId: "r" }));
    const asked: string[] = [];
    const prepare = makeHandler(deps, {
      isExecutionRunning: executionRunningOnAws(
        async (arn) => (asked.push(arn), { status: "FAILED" }),
        class extends Error {},
      ),
    });
    await prepare(event("next", { config: "smoke", runId: "r" }));
    expect(asked).toEqual([`${ARN}crashed`]);
    expect(await readRunLock(openStore(path.join(root, "r")))).toMatchObject({
      owner: "execution:next",
      takenOverFrom: "execution:crashed",
    });
  });

  it("refuses to resume a run that has checkpoints with another config, and hands the lock back", async () => {
    const { root, deps, event } = setup();
    const prepare = makeHandler(deps);
    await prepare(event("a", { config: "smoke", runId: "r" }));
    await saveCheckpoint(openStore(path.join(root, "r")), sampleCheckpoint(10));
    await releaseRunLock(openStore(path.join(root, "r")), "execution:a");
    await expect(prepare(event("b", { config: "smoke", runId: "r", epochs: 7 }))).rejects.toThrow(
      /trained with another config/,
    );
    expect(await readRunLock(openStore(path.join(root, "r")))).toMatchObject({
      owner: "execution:b",
      state: "released",
    });
  });
});

describe("siblingExecutionArn", () => {
  it("swaps the execution name in this execution's ARN, and gives up on anything else", () => {
    expect(siblingExecutionArn(`${ARN}me`, "other")).toBe(`${ARN}other`);
    expect(siblingExecutionArn("local-id", "other")).toBeUndefined();
  });

  it("reads a missing execution as not running", async () => {
    class Missing extends Error {}
    const check = executionRunningOnAws(async () => {
      throw new Missing("gone");
    }, Missing);
    await expect(check("old", `${ARN}me`, undefined as never)).resolves.toBe(false);
  });
});
