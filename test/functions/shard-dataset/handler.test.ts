// The shard-dataset Lambda handlers: events validated field by field, whole job and fan-out agree, repeats rewrite nothing.
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../trainer/errors.js";
import { finalizeHandler, handler, planHandler, workHandler } from "../../../functions/shard-dataset/index.js";
import { makeHandler, makePlanHandler } from "../../../functions/shard-dataset/handler.js";
import { openStore } from "../../../trainer/storage/open_store.js";
import { testDeps } from "../../support/handler_deps.js";
import { exists, snapshotEtags, writeIdxFolder, writeImageFolder } from "../../data/fixtures.js";
import { tempDir } from "../../support/temp_dir.js";

describe("shard-dataset handler", () => {
  it("shards a dataset, and a second invocation with the same input rewrites nothing", async () => {
    const source = await writeImageFolder(tempDir(), ["x", "y"], 4, 16);
    const output = tempDir();
    const event = { source, format: "imagefolder", output, resolution: 8, shardSize: 3, seed: 2 };
    const first = await handler(event);
    expect(first).toMatchObject({ manifestUri: path.join(output, "manifest.json"), reused: false, rejected: 0 });
    expect(first.counts.train + first.counts.test).toBe(8);
    const before = await snapshotEtags(output);
    const second = await handler(event);
    expect(second).toEqual({ ...first, reused: true });
    expect(await snapshotEtags(output)).toEqual(before);
  });

  it("rejects an event with a bad or unknown field, naming the field", async () => {
    await expect(handler({ source: "/x", format: "idx" })).rejects.toThrow(/invalid shard-dataset event: output: /);
    await expect(handler({ source: "/x", format: "idx", output: "/y", shardSize: -1 })).rejects.toThrow(/shardSize: /);
    await expect(handler({ source: "/x", format: "idx", output: "/y", colour: true })).rejects.toThrow(
      /Unrecognized key.*colour/,
    );
    await expect(workHandler({ source: "/x", format: "idx", output: "/y" })).rejects.toThrow(
      /work event: chunkIndex: /,
    );
    await expect(handler("not an object")).rejects.toThrow(ConfigError);
  });

  it("plan → work per chunk → finalize gives the manifest the whole job gives; repeating any step rewrites nothing", async () => {
    const source = await writeIdxFolder(tempDir(), { train: 30, test: 10 });
    const output = tempDir();
    const event = { source, format: "idx", output, shardSize: 8 };
    const plan = await planHandler(event);
    expect(plan.chunkIndices).toEqual([0, 1, 2, 3, 4, 5]);
    expect(plan.planUri).toBe(path.join(output, ".ijepa-shard-work", "plan.json"));
    for (const chunkIndex of plan.chunkIndices) await workHandler({ ...event, chunkIndex });
    const beforeRepeat = await snapshotEtags(output);
    await planHandler(event);
    expect((await workHandler({ ...event, chunkIndex: 4 })).reused).toBe("part");
    expect(await snapshotEtags(output)).toEqual(beforeRepeat);
    const done = await finalizeHandler(event);
    expect(done).toMatchObject({ counts: { train: 30, test: 10 }, shards: { train: 4, test: 2 }, reused: false });
    expect(await exists(path.join(output, ".ijepa-shard-work"))).toBe(false);

    const afterFinalize = await snapshotEtags(output);
    const again = await planHandler(event);
    expect(again).toMatchObject({ alreadyPublished: true, chunkIndices: [], planUri: null });
    expect(await finalizeHandler(event)).toEqual({ ...done, reused: true });
    expect(await snapshotEtags(output)).toEqual(afterFinalize);

    const whole = await handler({ ...event, output: tempDir() });
    expect(whole.fingerprint).toBe(done.fingerprint);
  });

  it("tells a worker to run the plan step first when no plan is stored", async () => {
    const output = tempDir();
    await expect(
      workHandler({ source: await writeIdxFolder(tempDir()), format: "idx", output, chunkIndex: 0 }),
    ).rejects.toThrow(/\.ijepa-shard-work\/plan\.json.*run the plan step first/s);
    expect(await fs.readdir(output)).toEqual([]);
  });
});

describe("shard-dataset handler factories", () => {
  /** The real opener, recording what it was asked to open. */
  const recordingOpener = () => {
    const opened: string[] = [];
    const open = (uri: string) => {
      opened.push(uri);
      return openStore(uri);
    };
    return { opened, open };
  };

  it("opens the event's output and source through the injected opener, and nothing else", async () => {
    const source = await writeIdxFolder(tempDir(), { train: 12, test: 4 });
    const output = tempDir();
    const { opened, open } = recordingOpener();
    const plan = await makePlanHandler(testDeps(open))({ source, format: "idx", output, shardSize: 8 });
    expect(plan.chunkIndices).toEqual([0, 1, 2]);
    expect(opened).toEqual([output, source]);
  });

  it("finds a named dataset through the injected environment, without opening the name as a folder", async () => {
    const dir = await writeIdxFolder(tempDir(), { train: 12, test: 4 });
    const output = tempDir();
    const { opened, open } = recordingOpener();
    const env = { FASHION_MNIST_DIR: dir, IJEPA_NO_DOWNLOAD: "1" };
    const done = await makeHandler(testDeps(open, env))({ source: "fashion-mnist", format: "idx", output });
    expect(done.counts).toEqual({ train: 12, test: 4 });
    expect(opened).toEqual([output]);
  });

  it("rejects a bad event before opening any store, showing an event that works", async () => {
    const { opened, open } = recordingOpener();
    const err = await makeHandler(testDeps(open))({ source: "/x", format: "png", output: "/y" }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/^invalid shard-dataset event: format: .*\n {2}fix: send \{"source": /);
    expect(opened).toEqual([]);
  });
});
