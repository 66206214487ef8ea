import { describe, expect, it } from "vitest";
import { TrainProgressLog } from "../../trainer/train/progress.js";
import type { StepRecord } from "../../trainer/run/metrics_record.js";

const record = (step: number): StepRecord => ({
  type: "step",
  time: "",
  step,
  epoch: Math.floor(step / 10),
  loss: 0.5 - step * 0.01,
  lr: 1e-4,
  wd: 0.04,
  momentum: 0.996,
  imgPerSec: 100,
  msPerStep: 10,
  contextPatches: 18,
  targetPatches: 6,
});

describe("TrainProgressLog (training progress off a terminal)", () => {
  it("prints the first step, every log_every-th step and the last, with epoch position, loss, schedules and speed", () => {
    const lines: string[] = [];
    const p = new TrainProgressLog({ total: 25, start: 0, itersPerEpoch: 10, logEvery: 10, log: (l) => lines.push(l) });
    for (let s = 0; s < 25; s++) p.step(record(s));
    p.stop();
    expect(lines.map((l) => l.split(" ")[1])).toEqual(["1/25", "10/25", "20/25", "25/25"]);
    expect(lines[2]).toMatch(
      /^step 20\/25 epoch 2 \(10\/10\) loss 0\.31000 .* lr 1\.000e-4 wd 0\.0400 m 0\.99600 ctx 18 tgt 6 100\.0 img\/s ETA/,
    );
  });

  it("after a resume, counts from the resumed step", () => {
    const lines: string[] = [];
    const p = new TrainProgressLog({ total: 30, start: 20, itersPerEpoch: 10, logEvery: 5, log: (l) => lines.push(l) });
    for (let s = 20; s < 30; s++) p.step(record(s));
    expect(lines.map((l) => l.split(" ")[1])).toEqual(["21/30", "25/30", "30/30"]);
  });
});
