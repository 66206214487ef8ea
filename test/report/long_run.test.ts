// A long run (hundreds of thousands of step records) still gets its charts, thinned to what a figure can show.
import { describe, expect, it } from "vitest";
import { lossFigure, schedulesFigure, thin } from "../../trainer/report/run_charts.js";
import { assembleRunHistory } from "../../trainer/report/run_history.js";
import { renderChartSvg } from "../../trainer/report/svg_chart.js";
import { summariseRun } from "../../trainer/report/run_summary.js";
import type { MetricsRecord } from "../../trainer/run/metrics_record.js";

describe("charts of a long run", () => {
  it("render 200,000 steps without overflowing the call stack, with a bounded number of points", () => {
    const records: MetricsRecord[] = [{ type: "start", time: "2026-01-01T00:00:00Z", step: 0, backend: "wasm", threads: 1, replicas: 2, resumed: false, configName: "x" }];
    for (let step = 0; step < 200_000; step++) {
      records.push({ type: "step", time: new Date(Date.parse("2026-01-01T00:00:00Z") + step * 1000).toISOString(), step, epoch: Math.floor(step / 10_000), loss: 0.5 / (1 + step / 1000), lr: 1e-4, wd: 0.04, momentum: 0.996, imgPerSec: 50, msPerStep: 1000, contextPatches: 18, targetPatches: 6 });
    }
    const history = assembleRunHistory(records, []);
    const loss = lossFigure(history);
    expect(loss.panels[0].series[0].points.length).toBeLessThanOrEqual(4001);
    expect(renderChartSvg(loss).length).toBeLessThan(2_000_000);
    expect(renderChartSvg(schedulesFigure(history))).toContain("<svg");
    expect(summariseRun(history, 0.01).length).toBeGreaterThan(0);
  });

  it("thinning keeps the last point and every non-finite one", () => {
    const points = Array.from({ length: 10 }, (_, i) => [i, i === 5 ? NaN : i] as const);
    const kept = thin(points, 3);
    expect(kept.map((p) => p[0])).toEqual([0, 4, 5, 8, 9]);
  });
});
