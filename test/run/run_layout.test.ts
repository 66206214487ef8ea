// The run contract's keys: built in one place, parsed back, and never able to leave their folder.
import { describe, expect, it } from "vitest";
import { datasetFolder, partKey, shardKeys } from "../../trainer/run/dataset_layout.js";
import {
  checkpointPrefix,
  probeBaselineKey,
  probeKey,
  reportKey,
  stepOfCheckpointKey,
  stepOfProbeKey,
} from "../../trainer/run/run_layout.js";

describe("a run's keys", () => {
  it("parse a probe result's step back out of its key, and nothing else under probe/", () => {
    expect(stepOfProbeKey(probeKey(120))).toBe(120);
    for (const other of [
      "probe/history.jsonl",
      probeBaselineKey("raw", "0123abcd"),
      "probe/00000120.embedding.json",
      "probe/120.json",
    ]) {
      expect(stepOfProbeKey(other)).toBeUndefined();
    }
    expect(stepOfCheckpointKey(`${checkpointPrefix(7)}state.json`)).toBe(7);
  });

  it("keep baseline and report files inside their folder", () => {
    expect(probeBaselineKey("random", "00ff")).toBe("probe/baselines/random-00ff.json");
    expect(() => probeBaselineKey("../raw", "00ff")).toThrow();
    expect(() => probeBaselineKey("raw", "x/y")).toThrow();
    expect(reportKey("loss.png")).toBe("report/loss.png");
    expect(() => reportKey("../config.yaml")).toThrow();
    expect(() => reportKey("..")).toThrow();
  });
});

describe("a dataset's keys", () => {
  it("sort shards and parts in index order, and put a dataset under datasets/", () => {
    expect(shardKeys("train", 3)).toEqual({
      images: "shards/train-00003.images.npy",
      labels: "shards/train-00003.labels.npy",
    });
    expect(partKey(12) < partKey(100)).toBe(true);
    expect(datasetFolder("fashion-mnist")).toBe("datasets/fashion-mnist");
    expect(() => shardKeys("train", 100_000)).toThrow(/larger shardSize/);
  });
});
