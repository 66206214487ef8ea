// Vega-Lite chart specs compiled to Vega and drawn as SVG text in Node: no browser, no canvas.
import * as vega from "vega";
import { type TopLevelSpec, compile } from "vega-lite";
import { textWidth } from "./svg_text.js";

/**
 * Without a canvas vega guesses every label at 0.8 em per character, which spaces legends unevenly and
 * pushes long ones out of the picture. The hook vega leaves for this (vl-convert uses it too) takes
 * DejaVu Sans widths instead, the font librsvg draws with here. Browsers measure with their canvas.
 */
const metrics = (vega as unknown as { textMetrics: { width: (item: TextItem, text: unknown) => number } }).textMetrics;
interface TextItem {
  fontSize?: number;
  fontWeight?: string | number;
}
metrics.width = (item, text) => {
  const size = item.fontSize != null ? Number(item.fontSize) || 0 : 11;
  const bold = item.fontWeight === "bold" || Number(item.fontWeight) >= 600;
  return textWidth(String(text ?? "").trim(), size) * (bold ? 1.1 : 1);
};

/** The Vega spec a Vega-Lite spec compiles to: what the report's page hands to vega in the browser. */
export function compileChart(spec: TopLevelSpec): vega.Spec {
  // Quiet: merging a chart's layers into one legend makes Vega-Lite warn about symbol styles it resolves itself.
  return compile(spec, { logger: vega.logger(vega.None) }).spec;
}

/**
 * Draws a chart as a standalone SVG document exactly `width` units wide (density 72, like the PNGs
 * and the page expect). Composite charts (stacked panels) cannot be sized by Vega itself, so the
 * drawing is measured once and scaled to the width; single views already come out at it.
 */
export async function renderChartSvg(spec: TopLevelSpec, width: number): Promise<string> {
  // renderer "none": the headless scenegraph; toSVG draws it without a DOM or canvas (text widths are estimated).
  const view = new vega.View(vega.parse(compileChart(spec)), { renderer: "none", logLevel: vega.Error });
  try {
    await view.runAsync();
    const natural = await view.toSVG();
    const drawnWidth = Number(/^<svg[^>]*\swidth="([\d.]+)"/.exec(natural)?.[1]);
    if (!(drawnWidth > 0)) throw new Error("vega drew an SVG without a width");
    return Math.abs(drawnWidth - width) < 0.5 ? natural : await view.toSVG(width / drawnWidth);
  } finally {
    view.finalize();
  }
}
