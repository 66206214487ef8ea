import { describe, expect, it } from "vitest";
import {
  CosineWDSchedule,
  LinearMomentumSchedule,
  WarmupCosineSchedule,
  makeSchedules,
} from "../../trainer/utils/schedulers.js";

describe("WarmupCosineSchedule (official step() increments first)", () => {
  const s = new WarmupCosineSchedule(10, 0.0002, 0.001, 110, 1e-6);
  it("warms up linearly from start_lr, starting one step in", () => {
    expect(s.at(0)).toBeCloseTo(0.0002 + 0.1 * 0.0008, 12);
    expect(s.at(4)).toBeCloseTo(0.0002 + 0.5 * 0.0008, 12);
  });
  it("reaches ref_lr at the end of warm-up, halfway down the cosine at mid-run, final_lr at T_max", () => {
    expect(s.at(9)).toBeCloseTo(0.001, 12);
    expect(s.at(59)).toBeCloseTo(1e-6 + (0.001 - 1e-6) * 0.5, 12);
    expect(s.at(109)).toBeCloseTo(1e-6, 12);
    expect(s.at(500)).toBeGreaterThanOrEqual(1e-6);
  });
});

describe("CosineWDSchedule", () => {
  const s = new CosineWDSchedule(0.04, 100, 0.4);
  it("rises from 0.04 to 0.4 along a cosine, reaching 0.4 at T_max", () => {
    expect(s.at(0)).toBeCloseTo(0.4 + (0.04 - 0.4) * 0.5 * (1 + Math.cos(Math.PI * 0.01)), 12);
    expect(s.at(49)).toBeCloseTo(0.22, 12);
    expect(s.at(99)).toBeCloseTo(0.4, 12);
  });
});

describe("LinearMomentumSchedule", () => {
  it("goes linearly from 0.996 to 1.0 over ipe·epochs·ipe_scale steps, starting at 0.996", () => {
    const m = new LinearMomentumSchedule(0.996, 1.0, 1000);
    expect(m.at(0)).toBe(0.996);
    expect(m.at(500)).toBeCloseTo(0.998, 12);
    expect(m.at(1000)).toBeCloseTo(1.0, 12);
    expect(m.at(2000)).toBeCloseTo(1.0, 12);
  });
});

describe("makeSchedules", () => {
  it("builds warm-up and T_max from epochs × iterations per epoch × ipe_scale like helper.init_opt", () => {
    const s = makeSchedules({
      itersPerEpoch: 50,
      epochs: 4,
      ipeScale: 1.25,
      warmupEpochs: 0.5,
      startLr: 0,
      lr: 1,
      finalLr: 0,
      weightDecay: 0.04,
      finalWeightDecay: 0.4,
      ema: [0.996, 1],
    });
    expect(s.lr.warmupSteps).toBe(25);
    expect(s.lr.tMax).toBe(250);
    expect(s.wd.tMax).toBe(250);
    expect(s.momentum.totalSteps).toBe(250);
  });
});
