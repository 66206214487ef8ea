// `ijepa rotate`: the table of what was kept (and why) and deleted, on a local folder injected as the store.
import { afterAll, describe, expect, it } from "vitest";
import type { ProbeMetric } from "../../trainer/checkpoint/rotation.js";
import { ConfigError } from "../../trainer/errors.js";
import { saveCheckpoint } from "../../trainer/checkpoint/checkpoint_store.js";
import { PROBE_HISTORY_KEY } from "../../trainer/run/run_layout.js";
import type { ObjectStore } from "../../trainer/storage/object_store.js";
import { formatRotation, runRotateCommand } from "../../bin/commands/rotate.js";
import { localStoreFactory, sampleCheckpoint } from "../checkpoint/fixtures.js";

const { makeStore, cleanup } = localStoreFactory();
afterAll(cleanup);

/** A run with checkpoints at 10..50 (latest 50) and a probe score that makes 20 the best. */
async function runWithCheckpoints(): Promise<{ open: (uri: string) => ObjectStore; opened: string[] }> {
  const store = await makeStore();
  for (const step of [10, 20, 30, 40, 50]) await saveCheckpoint(store, sampleCheckpoint(step));
  const record = { step: 20, time: "t", dataset: "d", linearTop1: 0.8, knnTop1: 0.6 };
  await store.put(PROBE_HISTORY_KEY, `${JSON.stringify(record)}\n`);
  const opened: string[] = [];
  const open = (uri: string): ObjectStore => {
    opened.push(uri);
    return store;
  };
  return { open, opened };
}

const OPTIONS = { run: "s3://runs/r1", keepLast: 2, keepBest: 1, keepEvery: 0 };

describe("ijepa rotate (runRotateCommand)", () => {
  it("prints one row per checkpoint with its action and reasons, then a summary", async () => {
    const { open, opened } = await runWithCheckpoints();
    const lines: string[] = [];
    const result = await runRotateCommand(
      { ...OPTIONS, dryRun: true },
      { openStore: open, print: (l) => lines.push(l) },
    );
    expect(opened).toEqual(["s3://runs/r1"]);
    expect(result.deleted).toEqual([10, 30]);
    expect(lines[0]).toBe("checkpoints of s3://runs/r1 (dry run: nothing deleted)");
    expect(lines[1]).toMatch(/^\s+step\s+action\s+reasons$/);
    expect(lines.slice(2, 7).map((l) => l.trim().split(/\s{2,}/))).toEqual([
      ["10", "would delete"],
      ["20", "keep", "best linearTop1 #1 (0.8)"],
      ["30", "would delete"],
      ["40", "keep", "one of the last 2"],
      ["50", "keep", "latest.json points here; one of the last 2"],
    ]);
    expect(lines.at(-1)).toBe("3 kept, 2 would delete");
  });

  it("refuses a metric it does not know, naming the ones it does, and deletes nothing", async () => {
    const { open } = await runWithCheckpoints();
    const lines: string[] = [];
    const options = { ...OPTIONS, metric: "top1" as ProbeMetric };
    const err = await runRotateCommand(options, { openStore: open, print: (l) => lines.push(l) }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/metric is "top1".*linearTop1, linearTop5, knnTop1/s);
    expect(lines).toEqual([]);
    expect(
      (await runRotateCommand({ ...OPTIONS, dryRun: true }, { openStore: open, print: () => {} })).deleted,
    ).toEqual([10, 30]);
  });

  it("says deleted, not would delete, when it really deletes", () => {
    const lines = formatRotation("/runs/r1", {
      kept: [{ step: 50, reasons: ["latest.json points here"] }],
      deleted: [40],
      dryRun: false,
    });
    expect(lines[0]).toBe("checkpoints of /runs/r1");
    expect(lines[2].trim().split(/\s{2,}/)).toEqual(["40", "deleted"]);
    expect(lines.at(-1)).toBe("1 kept, 1 deleted");
  });
});
