import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { type ChartFigure, renderChartSvg, textWidth } from "../../trainer/report/svg_chart.js";
import { svgToPng } from "../../trainer/report/svg_to_png.js";

function labels(svg: string, cls: string): string[] {
  return [...svg.matchAll(new RegExp(`<text class="${cls}"[^>]*>([^<]*)</text>`, "g"))].map((m) => m[1]);
}

function figure(overrides: Partial<ChartFigure["panels"][number]> = {}): ChartFigure {
  return {
    title: "Training loss",
    width: 600,
    panels: [
      {
        xLabel: "step",
        yLabel: "loss",
        height: 300,
        series: [
          { name: "loss (EMA)", points: [[0, 0.9], [100, 0.5], [200, 0.3]], color: "#0072B2", draw: "line" },
          { name: "epoch mean", points: [[100, 0.6], [200, 0.35]], color: "#E69F00", draw: "line+markers" },
        ],
        ...overrides,
      },
    ],
  };
}

describe("renderChartSvg", () => {
  it("draws every series under its name, with title, axis labels and a legend entry each", () => {
    const svg = renderChartSvg(figure());
    expect(svg).toContain('<g class="series" data-name="loss (EMA)"');
    expect(svg).toContain('<g class="series" data-name="epoch mean"');
    expect(labels(svg, "figure-title")).toEqual(["Training loss"]);
    expect(labels(svg, "axis-label x")).toEqual(["step"]);
    expect(labels(svg, "axis-label y")).toEqual(["loss"]);
    expect(labels(svg, "legend")).toEqual(["loss (EMA)", "epoch mean"]);
  });

  it("puts nice ticks on both axes that cover the data", () => {
    const svg = renderChartSvg(figure());
    expect(labels(svg, "tick x")).toEqual(["0", "50", "100", "150", "200"]);
    const y = labels(svg, "tick y").map(Number);
    expect(Math.min(...y)).toBeLessThanOrEqual(0.3);
    expect(Math.max(...y)).toBeGreaterThanOrEqual(0.9);
    expect(labels(svg, "tick y")).toEqual(["0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"]);
  });

  it("labels decades on a log-scale loss axis", () => {
    const svg = renderChartSvg(
      figure({ yScale: "log", series: [{ name: "loss", points: [[0, 4], [50, 0.4], [100, 0.03]], color: "#000", draw: "line" }] }),
    );
    expect(labels(svg, "tick y")).toEqual(expect.arrayContaining(["0.1", "1"]));
    // Equal ratios are equal distances: 0.1 → 1 spans the same height as 1 → 10 would.
    const ys = [...svg.matchAll(/<text class="tick y" x="[^"]+" y="([^"]+)"[^>]*>(0\.1|1)<\/text>/g)].map((m) => Number(m[1]));
    expect(ys).toHaveLength(2);
    expect(ys[0]).toBeGreaterThan(ys[1]);
  });

  it("leaves a gap at a non-finite value instead of drawing through it", () => {
    const svg = renderChartSvg(
      figure({ series: [{ name: "loss", points: [[0, 1], [1, 0.8], [2, NaN], [3, 0.6], [4, 0.5]], color: "#000", draw: "line" }] }),
    );
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg).not.toContain("NaN");
  });

  it("draws reference lines and names them in the legend unless told not to", () => {
    const svg = renderChartSvg(
      figure({
        referenceLines: [
          { axis: "y", value: 0.4, label: "raw pixels, linear", color: "#0072B2", dash: "dashed" },
          { axis: "x", value: 120, label: "resumed here", color: "#777", dash: "dotted", legend: false },
        ],
      }),
    );
    expect(svg).toContain('class="reference" data-label="raw pixels, linear"');
    expect(svg).toContain('class="reference" data-label="resumed here"');
    expect(labels(svg, "legend")).toContain("raw pixels, linear");
    expect(labels(svg, "legend")).not.toContain("resumed here");
  });

  it("says so in the plot when a panel has nothing to draw", () => {
    const svg = renderChartSvg(figure({ series: [{ name: "kNN", points: [], color: "#000", draw: "markers" }], emptyText: "no probe result yet" }));
    expect(labels(svg, "empty")).toEqual(["no probe result yet"]);
    expect(labels(svg, "legend")).toEqual([]); // no entry for a series with nothing drawn
  });

  it("escapes markup in labels", () => {
    const svg = renderChartSvg(figure({ yLabel: "loss <smooth L1> & co" }));
    expect(labels(svg, "axis-label y")).toEqual(["loss &lt;smooth L1&gt; &amp; co"]);
  });

  it("wraps a legend that is wider than the plot onto a second row", () => {
    const many = Array.from({ length: 8 }, (_, i) => ({ name: `a long series name ${i}`, points: [[0, i], [1, i + 1]] as [number, number][], color: "#000", draw: "line" as const }));
    const svg = renderChartSvg(figure({ series: many }));
    const rows = new Set([...svg.matchAll(/<text class="legend" x="[^"]+" y="([^"]+)"/g)].map((m) => m[1]));
    expect(rows.size).toBeGreaterThan(1);
  });

  it("rasterises to a PNG of the SVG's size times the pixel ratio", async () => {
    const svg = renderChartSvg(figure());
    const height = Number(/height="(\d+)"/.exec(svg)![1]);
    const meta = await sharp(await svgToPng(svg, 2)).metadata();
    expect(meta.format).toBe("png");
    expect(meta.width).toBe(1200);
    expect(meta.height).toBe(height * 2);
  });
});

describe("textWidth", () => {
  it("counts narrow letters as narrower than wide ones", () => {
    expect(textWidth("iiii", 10)).toBeLessThan(textWidth("mmmm", 10));
  });
});
