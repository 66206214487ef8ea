// A long run (hundreds of thousands of step records) still gets its charts, thinned to what a figure can show.
import { describe, expect, it } from "vitest";
import { lossChart, schedulesChart } from "../../trainer/report/run_chart_specs.js";
import { assembleRunHistory } from "../../trainer/report/run_history.js";
import { renderChartSvg } from "../../trainer/report/vega_render.js";
import { summariseRun } from "../../trainer/report/run_summary.js";
import type { MetricsRecord } from "../../trainer/run/metrics_record.js";
import { seriesRows } from "./chart_spec_support.js";

describe("charts of a long run", () => {
  it("render 200,000 steps without overflowing the call stack, with a bounded number of points", async () => {
    const records: MetricsRecord[] = [
      {
        type: "start",
        time: "2026-01-01T00:00:00Z",
        step: 0,
        backend: "wasm",
        threads: 1,
        replicas: 2,
        resumed: false,
        configName: "x",
      },
    ];
    for (let step = 0; step < 200_000; step++) {
      records.push({
        type: "step",
        time: new Date(Date.parse("2026-01-01T00:00:00Z") + step * 1000).toISOString(),
        step,
        epoch: Math.floor(step / 10_000),
        loss: 0.5 / (1 + step / 1000),
        lr: 1e-4,
        wd: 0.04,
        momentum: 0.996,
        imgPerSec: 50,
        msPerStep: 1000,
        contextPatches: 18,
        targetPatches: 6,
      });
    }
    const history = assembleRunHistory(records, []);
    const loss = lossChart(history);
    expect(seriesRows(loss, "loss per step").length).toBeLessThanOrEqual(4001);
    expect(seriesRows(loss, "loss (EMA)").length).toBeLessThanOrEqual(2001);
    expect((await renderChartSvg(loss, 900)).length).toBeLessThan(2_000_000);
    expect(await renderChartSvg(schedulesChart(history), 900)).toContain("<svg");
    expect(summariseRun(history, 0.01).length).toBeGreaterThan(0);
  });
});
