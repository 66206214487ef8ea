// The look shared by the report's Vega-Lite charts: fonts, axes, top legends, one legend per chart from named styles.
import type { Config } from "vega-lite";
import { FONT_FAMILY } from "./svg_text.js";

/** CSS pixels; the PNGs get pixelRatio times as many. */
export const FIGURE_WIDTH = 900;
/** Long enough for a legend stroke to show its dashes; markers use half-size shapes (see SYMBOL_SHAPES). */
const LEGEND_SYMBOL_SIZE = 400;

export const CHART_CONFIG: Config = {
  font: FONT_FAMILY,
  background: "#ffffff",
  padding: { left: 8, right: 16, top: 8, bottom: 8 },
  title: { fontSize: 17, fontWeight: "bold", color: "#222", anchor: "middle", offset: 10 },
  axis: {
    labelFontSize: 12,
    labelColor: "#555",
    titleFontSize: 13,
    titleFontWeight: "normal",
    titleColor: "#222",
    gridColor: "#e4e4e4",
    domainColor: "#999",
    tickColor: "#999",
    labelFlush: true,
  },
  legend: {
    orient: "top",
    direction: "horizontal",
    labelFontSize: 12,
    labelColor: "#222",
    labelLimit: 400,
    columnPadding: 22,
    symbolStrokeWidth: 2.5,
    symbolSize: LEGEND_SYMBOL_SIZE,
  },
  view: { stroke: "#999", fill: "#fcfcfc" },
};

export type Dash = "solid" | "dashed" | "dotted";
/** "stroke" is a short line in the legend: the symbol of a line or rule without markers. */
export type LegendSymbol = "stroke" | "circle" | "square" | "cross";

/** How one named series (or reference line) looks, and so how its legend entry looks. */
export interface SeriesStyle {
  name: string;
  color: string;
  dash?: Dash;
  symbol?: LegendSymbol;
}

const DASHES: Record<Dash, number[]> = { solid: [1, 0], dashed: [6, 4], dotted: [2, 3] };
/**
 * Marker shapes as paths at half of vega's [-1, 1] symbol box, so that one symbol size gives a legend
 * stroke long enough to show its dashes (sqrt(size) units) and a marker half as wide. Vega has no "x"
 * symbol; the path draws one (stroked: it needs a point mark with filled: false).
 */
const SYMBOL_SHAPES: Record<LegendSymbol, string> = {
  stroke: "stroke",
  circle: "M-0.5,0A0.5,0.5,0,1,0,0.5,0A0.5,0.5,0,1,0,-0.5,0Z",
  square: "M-0.45,-0.45H0.45V0.45H-0.45Z",
  cross: "M-0.5,-0.5L0.5,0.5M-0.5,0.5L0.5,-0.5",
};

/** The point-mark size that draws one of the shapes above `diameter` pixels wide. */
export function markerSize(diameter: number): number {
  return 4 * diameter * diameter;
}

/**
 * The encodings every layer of a chart uses so that all its series share one legend: colour, dash and
 * legend symbol keyed by the series name, with the domain fixed to the styles given (in that order).
 * An empty style list gives constant encodings and no legend.
 */
export function seriesEncoding(styles: readonly SeriesStyle[]): Record<"color" | "strokeDash" | "shape", object> {
  const domain = styles.map((s) => s.name);
  const channel = (range: unknown[]) => ({ field: "series", type: "nominal", title: null, scale: { domain, range } });
  return {
    color: channel(styles.map((s) => s.color)),
    strokeDash: channel(styles.map((s) => DASHES[s.dash ?? "solid"])),
    shape: channel(styles.map((s) => SYMBOL_SHAPES[s.symbol ?? "stroke"])),
  };
}

/** The dash pattern Vega draws for a named dash (for marks outside a legend). */
export function dashOf(dash: Dash): number[] {
  return DASHES[dash];
}
