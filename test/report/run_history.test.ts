import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { METRICS_KEY, PROBE_HISTORY_KEY } from "../../trainer/run/run_layout.js";
import { NotFoundError } from "../../trainer/errors.js";
import {
  assembleRunHistory,
  parseMetricsJsonl,
  parseProbeHistoryJsonl,
  readRunHistory,
} from "../../trainer/report/run_history.js";
import { emaSmooth } from "../../trainer/report/smoothing.js";
import { LocalObjectStore } from "../../trainer/storage/local_store.js";
import { ABANDONED_LOSS_OFFSET, fakeLossTrend, fakeMetricsLines, fakeProbeLines } from "./fake_run.js";

const step = (s: number, loss: number | null | string, extra = ""): string =>
  `{"type":"step","time":"2025-03-01T08:00:00Z","step":${s},"epoch":0,"loss":${loss},"lr":0.001,"wd":0.04,"momentum":0.996,"imgPerSec":300,"msPerStep":400,"contextPatches":30,"targetPatches":12${extra}}`;
const start = (s: number, resumed: boolean): string =>
  `{"type":"start","time":"2025-03-01T08:00:00Z","step":${s},"backend":"cpu","threads":2,"replicas":1,"resumed":${resumed},"configName":"tiny"}`;

function historyOf(lines: string[]) {
  const parsed = parseMetricsJsonl(lines.join("\n"));
  return assembleRunHistory(parsed.records, [], parsed.problems);
}

describe("run history from metrics.jsonl", () => {
  it("keeps the later line when a step was logged twice", () => {
    const history = historyOf([start(0, false), step(10, 0.9), step(20, 0.8), step(20, 0.7)]);
    expect(history.steps.map((s) => [s.step, s.loss])).toEqual([
      [10, 0.9],
      [20, 0.7],
    ]);
  });

  it("drops what an abandoned process logged past the checkpoint a resume started from", () => {
    // The first process got to step 40; the second resumed from 20 and logs only every 15 steps.
    const history = historyOf([
      start(0, false),
      step(10, 0.9),
      step(20, 0.8),
      step(30, 9),
      step(40, 9),
      start(20, true),
      step(35, 0.6),
      step(50, 0.5),
    ]);
    expect(history.steps.map((s) => s.step)).toEqual([10, 20, 35, 50]);
    expect(history.starts.map((s) => s.resumed)).toEqual([false, true]);
  });

  it("folds the fake run's resume into one timeline with no abandoned point left", () => {
    const history = historyOf(fakeMetricsLines({ resume: { crashAfter: 1330, from: 1200 } }));
    const steps = history.steps.map((s) => s.step);
    expect(new Set(steps).size).toBe(steps.length);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(steps).toHaveLength(201); // 0, 10, …, 2000
    // The abandoned stretch (1210..1330) was logged ABANDONED_LOSS_OFFSET higher; none of it survives.
    const stretch = history.steps.filter((s) => s.step > 1200 && s.step <= 1330);
    expect(stretch.length).toBeGreaterThan(0);
    for (const s of stretch) expect(s.loss).toBeLessThan(fakeLossTrend(s.step) + ABANDONED_LOSS_OFFSET / 2);
    expect(history.epochs.map((e) => e.epoch)).toEqual([0, 1, 2, 3, 4]);
  });

  it("reads NaN, Infinity and null losses as non-finite without dropping the record", () => {
    const history = historyOf([step(10, "NaN"), step(20, null), step(30, "-Infinity"), step(40, 0.5)]);
    expect(history.steps.map((s) => s.loss)).toEqual([NaN, NaN, -Infinity, 0.5]);
    expect(history.steps[0].lr).toBe(0.001);
    expect(history.problems).toEqual([]);
  });

  it("skips a truncated last line and says which line of which file it was", () => {
    const parsed = parseMetricsJsonl(
      [step(10, 0.9), step(20, 0.8).slice(0, 40)].join("\n") + "\n",
      "s3://runs/r1/metrics.jsonl",
    );
    expect(parsed.records).toHaveLength(1);
    expect(parsed.problems).toEqual(["s3://runs/r1/metrics.jsonl line 2: not JSON (a truncated last write?)"]);
  });

  it("skips records of an unknown type or without a whole-number step", () => {
    const parsed = parseMetricsJsonl(
      ['{"type":"gpu","step":3}', '{"type":"step","step":"ten","loss":1}', step(10, 0.9)].join("\n"),
    );
    expect(parsed.records).toHaveLength(1);
    expect(parsed.problems).toHaveLength(2);
  });

  it("keeps one probe per step, the later one", () => {
    const parsed = parseProbeHistoryJsonl(
      [
        '{"step":100,"time":"t","dataset":"d","linearTop1":0.5,"knnTop1":0.4}',
        '{"step":100,"time":"t","dataset":"d","linearTop1":0.6,"knnTop1":0.45}',
      ].join("\n"),
    );
    const history = assembleRunHistory([], parsed.records);
    expect(history.probes.map((p) => p.linearTop1)).toEqual([0.6]);
  });
});

describe("readRunHistory", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "report-history-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("names the missing metrics.jsonl", async () => {
    const store = new LocalObjectStore(dir);
    const err = await readRunHistory(store).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as NotFoundError).uri).toBe(store.uriOf(METRICS_KEY));
  });

  it("reads a run with no probe yet as having no probes", async () => {
    const store = new LocalObjectStore(dir);
    await store.put(METRICS_KEY, [start(0, false), step(10, 0.9)].join("\n"));
    const history = await readRunHistory(store);
    expect(history.steps).toHaveLength(1);
    expect(history.probes).toEqual([]);
  });

  it("reads probes from probe/history.jsonl in step order", async () => {
    const store = new LocalObjectStore(dir);
    await store.put(METRICS_KEY, [start(0, false), step(10, 0.9)].join("\n"));
    await store.put(PROBE_HISTORY_KEY, fakeProbeLines({ probeSteps: [800, 400] }).join("\n"));
    expect((await readRunHistory(store)).probes.map((p) => p.step)).toEqual([400, 800]);
  });
});

describe("emaSmooth", () => {
  it("starts on the first value and steps over non-finite ones", () => {
    const smoothed = emaSmooth([1, NaN, 0], 0.5);
    expect(smoothed[0]).toBe(1);
    expect(smoothed[1]).toBeNaN();
    // Bias-corrected: (0.5 * 0.5 * 1 + 0.5 * 0) / (1 - 0.25) = 1/3.
    expect(smoothed[2]).toBeCloseTo(1 / 3, 12);
  });
});
