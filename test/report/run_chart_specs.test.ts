import { describe, expect, it } from "vitest";
import { assembleRunHistory, parseMetricsJsonl, parseProbeHistoryJsonl } from "../../trainer/report/run_history.js";
import {
  collapseChart,
  lossChart,
  probeChart,
  schedulesChart,
  thin,
  useLogScale,
} from "../../trainer/report/run_chart_specs.js";
import { fakeLossTrend, fakeMetricsLines, fakeProbeLines } from "./fake_run.js";
import { axisTitles, legendNames, rowsOf, seriesRows } from "./chart_spec_support.js";

const historyOf = (options: Parameters<typeof fakeMetricsLines>[0] = {}) =>
  assembleRunHistory(
    parseMetricsJsonl(fakeMetricsLines(options).join("\n")).records,
    parseProbeHistoryJsonl(fakeProbeLines(options).join("\n")).records,
  );

describe("loss chart", () => {
  it("plots each logged step once, its EMA, the epoch means and the resume, all named in one legend", () => {
    const spec = lossChart(historyOf());
    const steps = seriesRows(spec, "loss per step").map((r) => r.step);
    expect(steps.length).toBe(201); // steps 0, 10, …, 2000: the abandoned timeline after the crash is gone
    expect(new Set(steps).size).toBe(steps.length);
    expect(seriesRows(spec, "loss (EMA)").length).toBe(201);
    expect(seriesRows(spec, "resumed here")).toEqual([{ series: "resumed here", step: 1200 }]);
    expect(legendNames(spec)).toEqual([["loss per step", "loss (EMA)", "epoch mean", "resumed here"]]);
    expect(axisTitles(spec)).toEqual({ x: ["step"], y: ["loss"] });
  });

  it("smooths: the EMA stays closer to the noise-free trend than the raw points do", () => {
    const spec = lossChart(historyOf({ resume: null }));
    const error = (name: string) => {
      const rows = seriesRows(spec, name).filter((r) => (r.step as number) >= 500);
      return (
        rows.reduce((sum, r) => sum + Math.abs((r.loss as number) - fakeLossTrend(r.step as number)), 0) / rows.length
      );
    };
    expect(error("loss (EMA)")).toBeLessThan(error("loss per step") / 2);
  });

  it("draws each epoch mean as a flat segment over that epoch's steps", () => {
    const means = seriesRows(lossChart(historyOf()), "epoch mean");
    expect(means.slice(0, 2).map((m) => [m.step, m.end])).toEqual([
      [0, 400],
      [400, 800],
    ]);
    expect(rowsOf(lossChart(historyOf())).find((r) => r.row.series === "epoch mean")?.mark).toBe("rule");
  });

  it("breaks the EMA line at a non-finite loss and marks that step", () => {
    const spec = lossChart(historyOf({ nonFiniteLossAt: [500] }));
    expect(seriesRows(spec, "loss (EMA)").find((r) => r.step === 500)?.loss).toBeNull();
    expect(seriesRows(spec, "loss per step").some((r) => r.step === 500)).toBe(false);
    expect(seriesRows(spec, "non-finite loss")).toEqual([{ series: "non-finite loss", step: 500 }]);
    expect(legendNames(spec)[0]).toContain("non-finite loss");
  });

  it("switches the loss axis to log scale when the loss spans more than a decade", () => {
    const lines = Array.from({ length: 100 }, (_, i) =>
      JSON.stringify({
        type: "step",
        time: "",
        step: i * 10,
        epoch: 0,
        loss: 3 * Math.exp(-i / 15),
        lr: 0,
        wd: 0,
        momentum: 1,
        imgPerSec: 1,
        msPerStep: 1,
        contextPatches: 1,
        targetPatches: 1,
      }),
    );
    const steep = assembleRunHistory(parseMetricsJsonl(lines.join("\n")).records, []);
    expect(useLogScale(steep, "auto")).toBe(true);
    expect(JSON.stringify(lossChart(steep))).toContain('"type":"log"');
    expect(axisTitles(lossChart(steep)).y).toEqual(["loss (log scale)"]);
    expect(JSON.stringify(lossChart(historyOf()))).not.toContain('"type":"log"');
    expect(JSON.stringify(lossChart(steep, "linear"))).not.toContain('"type":"log"');
  });
});

describe("schedules, collapse and probe charts", () => {
  it("stacks learning rate, weight decay and momentum over one step axis, the resume on each panel", () => {
    const spec = schedulesChart(historyOf());
    expect(axisTitles(spec)).toEqual({ x: ["step"], y: ["learning rate", "weight decay", "EMA momentum"] });
    expect((spec as { vconcat: unknown[] }).vconcat).toHaveLength(3);
    expect(rowsOf(spec).filter((r) => r.row.step === 1200 && r.mark === "rule")).toHaveLength(3);
    expect(legendNames(spec)).toEqual([["resumed here"]]);
    // Each axis fits its data: a weight decay creeping from 0.04 to 0.04006 over a short run still shows its curve.
    const panels = (spec as { vconcat: { layer: { encoding: { y?: { scale?: unknown } } }[] }[] }).vconcat;
    expect(panels.map((p) => p.layer[0].encoding.y?.scale)).toEqual([
      { zero: false },
      { zero: false },
      { zero: false },
    ]);
  });

  it("draws the collapse threshold as a horizontal line at its value and marks warned epochs", () => {
    const spec = collapseChart(historyOf({ collapseFromEpoch: 3 }), 0.05);
    expect(seriesRows(spec, "collapse threshold (0.05)")).toEqual([
      { series: "collapse threshold (0.05)", value: 0.05 },
    ]);
    expect(seriesRows(spec, "collapse warning").map((r) => r.epoch)).toEqual([3, 4]);
    expect(seriesRows(spec, "effective rank (RankMe)")).toHaveLength(5);
    expect(axisTitles(spec)).toEqual({ x: ["epoch"], y: ["target std", "effective rank"] });
  });

  it("leaves the threshold out when there is none, and warnings when none was raised", () => {
    const spec = collapseChart(historyOf(), undefined);
    expect(legendNames(spec)).toEqual([["target feature std"], ["effective rank (RankMe)"]]);
  });

  it("shows linear and kNN accuracy per probe with the four baselines as flat lines", () => {
    const spec = probeChart(historyOf());
    expect(seriesRows(spec, "linear probe").map((r) => r.step)).toEqual([800, 1600, 2000]);
    expect(seriesRows(spec, "kNN")).toHaveLength(3);
    const baselines = rowsOf(spec)
      .filter((r) => r.mark === "rule")
      .map((r) => [r.row.series, r.row.value]);
    expect(baselines).toEqual([
      ["raw pixels, linear", 0.841],
      ["raw pixels, kNN", 0.855],
      ["random init, linear", 0.682],
      ["random init, kNN", 0.615],
    ]);
    expect(axisTitles(spec)).toEqual({ x: ["step"], y: ["top-1 accuracy"] });
    expect((spec as { title: string }).title).toBe("Probe accuracy on fashion-mnist");
  });
});

describe("thin", () => {
  it("keeps the last point and every non-finite one", () => {
    const points = Array.from({ length: 10 }, (_, i) => [i, i === 5 ? NaN : i] as const);
    expect(thin(points, 3).map((p) => p[0])).toEqual([0, 4, 5, 8, 9]);
  });
});
