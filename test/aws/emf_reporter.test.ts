// EMF lines: the format CloudWatch extracts, step averaging, epoch metrics, heartbeat.
import { describe, expect, it } from "vitest";
import { emfLine, METRIC, runIdOf } from "../../trainer/aws/emf.js";
import { EmfReporter } from "../../trainer/aws/emf_reporter.js";
import type { StepRecord } from "../../trainer/run/metrics_record.js";

const step = (i: number, loss: number, imgPerSec: number, lr = 1e-3): StepRecord => ({
  type: "step",
  time: "",
  step: i,
  epoch: 0,
  loss,
  lr,
  wd: 0.04,
  momentum: 0.996,
  imgPerSec,
  msPerStep: 1,
  contextPatches: 10,
  targetPatches: 5,
});

describe("emfLine", () => {
  it("declares each metric in the Ijepa namespace, per run and without dimensions", () => {
    const doc = JSON.parse(emfLine("fmnist-tiny", { Loss: 0.5, ImagesPerSecond: 100 }, 1700000000000)!);
    expect(doc._aws).toEqual({
      Timestamp: 1700000000000,
      CloudWatchMetrics: [
        {
          Namespace: "Ijepa",
          Dimensions: [["RunId"], []],
          Metrics: [
            { Name: "Loss", Unit: "None" },
            { Name: "ImagesPerSecond", Unit: "Count/Second" },
          ],
        },
      ],
    });
    expect(doc).toMatchObject({ RunId: "fmnist-tiny", Loss: 0.5, ImagesPerSecond: 100 });
  });

  it("drops non-finite values (CloudWatch would reject the line) and writes nothing when none is left", () => {
    const doc = JSON.parse(emfLine("r", { Loss: Number.NaN, LearningRate: 1e-4 })!);
    expect(doc._aws.CloudWatchMetrics[0].Metrics).toEqual([{ Name: "LearningRate", Unit: "None" }]);
    expect(doc.Loss).toBeUndefined();
    expect(emfLine("r", { Loss: Number.POSITIVE_INFINITY })).toBeUndefined();
  });

  it("takes the run id from the run's folder", () => {
    expect(runIdOf("s3://runs-bucket/fashion-mnist-fmnist-vit-tiny/")).toBe("fashion-mnist-fmnist-vit-tiny");
  });
});

describe("EmfReporter", () => {
  function reporter() {
    let now = 0;
    const lines: Array<Record<string, unknown>> = [];
    const r = new EmfReporter({
      runId: "r1",
      write: (l) => lines.push(JSON.parse(l)),
      now: () => now,
      stepIntervalMs: 30_000,
      heartbeatMs: 0,
    });
    return {
      r,
      lines,
      advance: (ms: number) => {
        now += ms;
      },
    };
  }

  it("writes a heartbeat at start", () => {
    const { lines } = reporter();
    expect(lines).toEqual([expect.objectContaining({ [METRIC.heartbeat]: 1, RunId: "r1" })]);
  });

  it("averages step metrics over the interval instead of a line per step, keeping the last learning rate", () => {
    const { r, lines, advance } = reporter();
    r.record(step(0, 1.0, 100, 1e-3));
    advance(10_000);
    r.record(step(1, 0.5, 300, 2e-3));
    expect(lines).toHaveLength(1); // only the heartbeat so far
    advance(25_000);
    r.record(step(2, 0.3, 200, 3e-3));
    expect(lines[1]).toMatchObject({ Loss: 0.6, ImagesPerSecond: 200, LearningRate: 3e-3 });
  });

  it("writes epoch collapse metrics at once, after flushing pending steps, and flushes on close", () => {
    const { r, lines } = reporter();
    r.record(step(0, 0.8, 50));
    r.record({
      type: "epoch",
      time: "",
      step: 1,
      epoch: 0,
      meanLoss: 0.8,
      targetStd: 0.12,
      effectiveRank: 40,
      collapseWarning: false,
    });
    expect(lines.slice(1)).toEqual([
      expect.objectContaining({ Loss: 0.8 }),
      expect.objectContaining({ CollapseTargetStd: 0.12, EffectiveRank: 40 }),
    ]);
    r.record(step(1, 0.4, 50));
    r.close();
    expect(lines.at(-1)).toMatchObject({ Loss: 0.4 });
  });
});
