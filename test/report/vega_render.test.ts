import sharp from "sharp";
import { describe, expect, it } from "vitest";
import type { TopLevelSpec } from "vega-lite";
import { svgToPng } from "../../trainer/report/svg_to_png.js";
import { compileChart, renderChartSvg } from "../../trainer/report/vega_render.js";

const line = (width: number): TopLevelSpec => ({
  width,
  height: 200,
  title: "A <chart> & its title",
  data: {
    values: [
      { step: 0, loss: 1 },
      { step: 10, loss: 0.5 },
      { step: 20, loss: 0.25 },
    ],
  },
  mark: "line",
  encoding: {
    x: { field: "step", type: "quantitative", title: "step" },
    y: { field: "loss", type: "quantitative", title: "loss" },
  },
});

const svgSize = (svg: string) => {
  const m = /^<svg[^>]*\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"/.exec(svg)!;
  return { width: Number(m[1]), height: Number(m[2]) };
};

describe("renderChartSvg", () => {
  it("draws a Vega-Lite spec as SVG text in Node, with its title, axis titles and an escaped label", async () => {
    const svg = await renderChartSvg(line(500), 600);
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("A &lt;chart&gt; &amp; its title");
    expect(svg).toContain(">step</text>");
    expect(svg).toContain(">loss</text>");
    expect(svg).toMatch(/<path[^>]* d="M/); // the line itself
  });

  it("comes out exactly the width asked for, whatever width the spec's plot has", async () => {
    for (const plotWidth of [300, 600, 900])
      expect(svgSize(await renderChartSvg(line(plotWidth), 700)).width).toBeCloseTo(700, 6);
  });

  it("rasterises to a PNG of that width times the pixel ratio", async () => {
    const svg = await renderChartSvg(line(500), 640);
    const { height } = svgSize(svg);
    const meta = await sharp(await svgToPng(svg, 2)).metadata();
    expect(meta.format).toBe("png");
    expect(meta.width).toBe(1280);
    expect(Math.abs(meta.height! - height * 2)).toBeLessThanOrEqual(1);
  });

  it("compiles to a Vega spec that carries the data inline", () => {
    const vg = compileChart(line(400)) as { $schema: string; data: { values?: unknown[] }[] };
    expect(vg.$schema).toMatch(/vega\/v\d/);
    expect(vg.data.some((d) => d.values?.length === 3)).toBe(true);
  });
});
