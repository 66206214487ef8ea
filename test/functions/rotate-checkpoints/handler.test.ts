// Tests of the rotate-checkpoints Lambda handler, on local folders injected as the store.
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../../trainer/errors.js";
import { saveCheckpoint } from "../../../trainer/checkpoint/checkpoint_store.js";
import { PROBE_HISTORY_KEY } from "../../../trainer/run/run_layout.js";
import type { ObjectStore } from "../../../trainer/storage/object_store.js";
import { makeHandler, parseRotateEvent } from "../../../functions/rotate-checkpoints/handler.js";
import { handler } from "../../../functions/rotate-checkpoints/index.js";
import { testDeps } from "../../support/handler_deps.js";
import { localStoreFactory, sampleCheckpoint } from "../../checkpoint/fixtures.js";

const { makeStore, cleanup } = localStoreFactory();
afterAll(cleanup);

/** A run with checkpoints at 10..50 (latest 50) and a probe score that makes 20 the best. */
async function runWithCheckpoints(): Promise<{
  store: ObjectStore;
  open: (uri: string) => ObjectStore;
  opened: string[];
}> {
  const store = await makeStore();
  for (const step of [10, 20, 30, 40, 50]) await saveCheckpoint(store, sampleCheckpoint(step));
  await store.put(
    PROBE_HISTORY_KEY,
    JSON.stringify({ step: 20, time: "t", dataset: "d", linearTop1: 0.8, knnTop1: 0.6 }) + "\n",
  );
  const opened: string[] = [];
  const open = (uri: string): ObjectStore => {
    opened.push(uri);
    return store;
  };
  return { store, open, opened };
}

const EVENT = { run: "s3://runs/r1", keepLast: 2, keepBest: 1, keepEvery: 0 };

describe("rotate-checkpoints handler", () => {
  it("opens the run named in the event and returns what it kept and deleted", async () => {
    const { open, opened } = await runWithCheckpoints();
    const result = await makeHandler(testDeps(open))(EVENT);
    expect(opened).toEqual(["s3://runs/r1"]);
    expect(result.deleted).toEqual([10, 30]);
    expect(result.kept.map((k) => k.step)).toEqual([20, 40, 50]);
    expect(result.kept[0].reasons).toEqual(["best linearTop1 #1 (0.8)"]);
    expect(result.dryRun).toBe(false);
  });

  it("deletes nothing when invoked a second time with the same event", async () => {
    const { open } = await runWithCheckpoints();
    const handler = makeHandler(testDeps(open));
    const first = await handler(EVENT);
    const second = await handler(EVENT);
    expect(first.deleted).not.toEqual([]);
    expect(second.deleted).toEqual([]);
    expect(second.kept).toEqual(first.kept);
  });

  it("ranks by the metric the event names, and only reports in a dry run", async () => {
    const { open } = await runWithCheckpoints();
    const result = await makeHandler(testDeps(open))({ ...EVENT, keepLast: 0, metric: "knnTop1", dryRun: true });
    expect(result.dryRun).toBe(true);
    expect(result.deleted).toEqual([10, 30, 40]);
    expect(result.kept[0].reasons).toEqual(["best knnTop1 #1 (0.6)"]);
    const again = await makeHandler(testDeps(open))({ ...EVENT, keepLast: 0, metric: "knnTop1", dryRun: true });
    expect(again.deleted).toEqual([10, 30, 40]);
  });

  it.each([
    ["run", { ...EVENT, run: "" }],
    ["keepLast", { ...EVENT, keepLast: -1 }],
    ["keepBest", { ...EVENT, keepBest: "1" }],
    ["keepEvery", { run: "s3://runs/r1", keepLast: 2, keepBest: 1 }],
    ["metric", { ...EVENT, metric: "top1" }],
    ["dryRun", { ...EVENT, dryRun: "yes" }],
  ])("rejects an event with a bad %s, naming the field, before opening any store", async (field, event) => {
    const opened: string[] = [];
    const handler = makeHandler(
      testDeps((uri) => {
        opened.push(uri);
        throw new Error("must not be opened");
      }),
    );
    const err = await handler(event).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(`${field}:`);
    expect(opened).toEqual([]);
  });

  it("rejects an event that is not an object", () => {
    expect(() => parseRotateEvent("rotate please")).toThrow(ConfigError);
  });
});

describe("the deployed entry point", () => {
  it("opens a run given as a local folder path with the real store opener", async () => {
    const { store } = await runWithCheckpoints();
    const first = await handler({ ...EVENT, run: store.baseUri });
    expect(first.deleted).toEqual([10, 30]);
    expect((await handler({ ...EVENT, run: store.baseUri })).deleted).toEqual([]);
  });
});
