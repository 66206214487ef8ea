// Line and marker charts as SVG text: one or more stacked panels sharing a width, with ticks, labels and legends.
import { type AxisTicks, type TickFormat, linearTicks, logTicks } from "./axis_ticks.js";

export type LineDash = "solid" | "dashed" | "dotted";
export type MarkerShape = "circle" | "diamond" | "square" | "cross";

/** One named set of (x, y) points. A non-finite y leaves a gap in the line instead of bending it to 0. */
export interface ChartSeries {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
  color: string;
  /** "line+markers" suits sparse series (probe points, epochs) where each point is a measurement. */
  draw: "line" | "markers" | "line+markers";
  lineWidth?: number;
  dash?: LineDash;
  opacity?: number;
  marker?: MarkerShape;
  markerRadius?: number;
  /** false keeps it out of the legend (e.g. raw points already explained by their smoothed line). */
  legend?: boolean;
}

/** A straight line across the plot: a threshold or baseline ("y"), or an event such as a resume ("x"). */
export interface ReferenceLine {
  axis: "x" | "y";
  value: number;
  /** Shown in the legend; lines sharing a label share one legend entry. */
  label: string;
  color: string;
  dash?: LineDash;
  /** false keeps it out of the legend (e.g. the same event repeated on every panel of a stack). */
  legend?: boolean;
}

export interface ChartPanel {
  title?: string;
  /** Omit on upper panels of a stack that share the bottom panel's x axis label. */
  xLabel?: string;
  yLabel: string;
  series: ChartSeries[];
  referenceLines?: ReferenceLine[];
  yScale?: "linear" | "log";
  yFormat?: TickFormat;
  xInteger?: boolean;
  /** Values an axis must show besides the data, e.g. 0 on a step axis. */
  xInclude?: number[];
  yInclude?: number[];
  /** Total height of the panel in SVG units, including its title, legend and axis labels. */
  height: number;
  /** Shown in the plot area when no series has a point to draw. */
  emptyText?: string;
}

/** A whole picture: an optional title above panels stacked top to bottom. */
export interface ChartFigure {
  title?: string;
  width: number;
  panels: ChartPanel[];
}

export const FONT_FAMILY = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif";

const TITLE_SIZE = 17;
const PANEL_TITLE_SIZE = 14;
const LABEL_SIZE = 13;
const TICK_SIZE = 12;
const LEGEND_SIZE = 12;
const LEGEND_ROW = 20;
const MIN_PLOT_HEIGHT = 40;
const TEXT_COLOR = "#222";
const MUTED_TEXT = "#555";

/** Renders a figure as a standalone SVG document (white background, sized in pixels at density 72). */
export function renderChartSvg(figure: ChartFigure): string {
  if (figure.panels.length === 0) throw new Error("a chart figure needs at least one panel");
  const titleHeight = figure.title ? TITLE_SIZE + 16 : 6;
  const height = titleHeight + figure.panels.reduce((sum, p) => sum + p.height, 0);
  const axes = figure.panels.map(axesOf);
  // One left margin for all panels so stacked x axes line up.
  const left = Math.max(...figure.panels.map((p, i) => leftMarginOf(p, axes[i])));
  const right = Math.max(...axes.map((a) => rightMarginOf(a)));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${figure.width}" height="${height}" viewBox="0 0 ${figure.width} ${height}" font-family="${FONT_FAMILY}">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
  ];
  if (figure.title) {
    parts.push(text(figure.width / 2, TITLE_SIZE + 8, figure.title, { size: TITLE_SIZE, anchor: "middle", weight: "bold", cls: "figure-title" }));
  }
  let top = titleHeight;
  figure.panels.forEach((panel, i) => {
    parts.push(renderPanel(panel, axes[i], { id: i, top, left, right, width: figure.width }));
    top += panel.height;
  });
  parts.push("</svg>");
  return parts.join("\n");
}

/** Escapes text for SVG/HTML content and attribute values. */
export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** Advance widths of DejaVu Sans in em, for the characters whose width is far from the 0.62 em default. */
const CHAR_EM: Record<string, number> = {
  " ": 0.32, i: 0.28, j: 0.28, l: 0.28, f: 0.35, t: 0.39, r: 0.41, s: 0.52, c: 0.55, z: 0.52, k: 0.58, v: 0.59, x: 0.59, y: 0.59,
  m: 0.97, w: 0.82, ",": 0.32, ".": 0.32, ":": 0.34, ";": 0.34, "'": 0.28, "(": 0.39, ")": 0.39, "-": 0.36, "%": 0.95,
  I: 0.29, J: 0.29, M: 0.86, W: 0.99, "×": 0.84, "…": 1.0,
};

/** Approximate rendered width of a label in DejaVu Sans (what fontconfig picks here); no font metrics needed. */
export function textWidth(label: string, size: number): number {
  let em = 0;
  for (const c of label) em += CHAR_EM[c] ?? (c >= "A" && c <= "Z" ? 0.7 : 0.62);
  return em * size;
}

interface PanelAxes {
  x: AxisTicks;
  y: AxisTicks;
  yLog: boolean;
  hasData: boolean;
}

interface PanelBox {
  id: number;
  top: number;
  left: number;
  right: number;
  width: number;
}

function axesOf(panel: ChartPanel): PanelAxes {
  const wantLog = panel.yScale === "log";
  const xs: number[] = [...(panel.xInclude ?? [])];
  const ys: number[] = [];
  let hasData = false;
  for (const s of panel.series) {
    for (const [x, y] of s.points) {
      if (!Number.isFinite(x) || !Number.isFinite(y) || (wantLog && y <= 0)) continue;
      xs.push(x);
      ys.push(y);
      hasData = true;
    }
  }
  for (const line of panel.referenceLines ?? []) {
    if (!Number.isFinite(line.value)) continue;
    if (line.axis === "x") xs.push(line.value);
    else if (!wantLog || line.value > 0) ys.push(line.value);
  }
  for (const y of panel.yInclude ?? []) if (!wantLog || y > 0) ys.push(y);
  const format = panel.yFormat ?? "number";
  // Loops, not Math.min(...values): a long run has more points than a call may take arguments.
  const [xLo, xHi] = extent(xs);
  const x = xs.length ? linearTicks(xLo, xHi, { integer: panel.xInteger, targetCount: 6 }) : linearTicks(0, 1, { integer: panel.xInteger });
  if (ys.length === 0) return { x, y: linearTicks(0, 1, { format }), yLog: false, hasData };
  const [lo, hi] = extent(ys);
  const y = wantLog ? logTicks(lo, hi, { format }) : linearTicks(lo, hi, { format, targetCount: Math.max(3, Math.round(panel.height / 55)) });
  return { x, y, yLog: wantLog, hasData };
}

/** [min, max] of a non-empty list. */
export function extent(values: readonly number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

function leftMarginOf(panel: ChartPanel, axes: PanelAxes): number {
  const widest = Math.max(0, ...axes.y.ticks.map((t) => textWidth(t.label, TICK_SIZE)));
  return Math.ceil(12 + LABEL_SIZE + 10 + widest + 8);
}

function rightMarginOf(axes: PanelAxes): number {
  const lastLabel = axes.x.ticks[axes.x.ticks.length - 1]?.label ?? "";
  return Math.ceil(Math.max(20, textWidth(lastLabel, TICK_SIZE) / 2 + 8));
}

interface LegendItem {
  label: string;
  color: string;
  dash: LineDash;
  line: boolean;
  marker?: MarkerShape;
  markerRadius: number;
  opacity: number;
}

function legendItemsOf(panel: ChartPanel): LegendItem[] {
  const items: LegendItem[] = [];
  for (const s of panel.series) {
    // A series with nothing drawn yet (no finished epoch) would only add a puzzling legend entry.
    const drawn = s.points.some(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (panel.yScale !== "log" || y > 0));
    if (s.legend === false || !drawn || items.some((i) => i.label === s.name)) continue;
    items.push({
      label: s.name,
      color: s.color,
      dash: s.dash ?? "solid",
      line: s.draw !== "markers",
      marker: s.draw === "line" ? undefined : (s.marker ?? "circle"),
      markerRadius: s.markerRadius ?? 3.5,
      opacity: Math.max(0.6, s.opacity ?? 1),
    });
  }
  for (const r of panel.referenceLines ?? []) {
    if (r.legend === false || items.some((i) => i.label === r.label)) continue;
    items.push({ label: r.label, color: r.color, dash: r.dash ?? "dashed", line: true, markerRadius: 0, opacity: 1 });
  }
  return items;
}

/** Places legend items left to right, wrapping to a new row when the next would pass the plot's width. */
function layoutLegend(items: LegendItem[], plotWidth: number): { item: LegendItem; dx: number; row: number }[] {
  const placed: { item: LegendItem; dx: number; row: number }[] = [];
  let dx = 0;
  let row = 0;
  for (const item of items) {
    const width = 28 + textWidth(item.label, LEGEND_SIZE) + 18;
    if (dx > 0 && dx + width > plotWidth) {
      row += 1;
      dx = 0;
    }
    placed.push({ item, dx, row });
    dx += width;
  }
  return placed;
}

function renderPanel(panel: ChartPanel, axes: PanelAxes, box: PanelBox): string {
  const plotWidth = box.width - box.left - box.right;
  const legend = layoutLegend(legendItemsOf(panel), plotWidth);
  const legendRows = legend.length ? legend[legend.length - 1].row + 1 : 0;
  const titleHeight = panel.title ? PANEL_TITLE_SIZE + 10 : 0;
  const legendHeight = legendRows * LEGEND_ROW + (legendRows ? 4 : 0);
  const plotTop = box.top + titleHeight + legendHeight + 8;
  // Without an x label (an upper panel of a stack) the gap keeps its tick labels clear of the next panel.
  const bottomSpace = TICK_SIZE + 10 + (panel.xLabel ? LABEL_SIZE + 12 : 16);
  const plotHeight = Math.max(MIN_PLOT_HEIGHT, box.top + panel.height - bottomSpace - plotTop);
  const plotLeft = box.left;
  const plotRight = plotLeft + plotWidth;
  const plotBottom = plotTop + plotHeight;

  const sx = (x: number): number => plotLeft + ((x - axes.x.min) / (axes.x.max - axes.x.min)) * plotWidth;
  const sy = axes.yLog
    ? (y: number): number =>
        plotBottom - ((Math.log10(y) - Math.log10(axes.y.min)) / (Math.log10(axes.y.max) - Math.log10(axes.y.min))) * plotHeight
    : (y: number): number => plotBottom - ((y - axes.y.min) / (axes.y.max - axes.y.min)) * plotHeight;

  const out: string[] = [`<g class="panel" data-panel="${escapeXml(panel.yLabel)}">`];
  if (panel.title) {
    out.push(text(plotLeft, box.top + PANEL_TITLE_SIZE + 4, panel.title, { size: PANEL_TITLE_SIZE, weight: "bold", cls: "panel-title" }));
  }
  const legendTop = box.top + titleHeight + 4;
  for (const { item, dx, row } of legend) {
    out.push(legendEntry(item, plotLeft + dx, legendTop + row * LEGEND_ROW + LEGEND_ROW / 2));
  }

  // Grid and ticks.
  out.push(`<rect x="${n(plotLeft)}" y="${n(plotTop)}" width="${n(plotWidth)}" height="${n(plotHeight)}" fill="#fcfcfc" stroke="none"/>`);
  for (const tick of axes.y.ticks) {
    const y = sy(tick.value);
    out.push(line(plotLeft, y, plotRight, y, tick.major ? "#dcdcdc" : "#efefef", 1));
    if (tick.label) {
      out.push(text(plotLeft - 7, y + TICK_SIZE * 0.35, tick.label, { size: TICK_SIZE, anchor: "end", color: MUTED_TEXT, cls: "tick y" }));
    }
  }
  const xLabelEvery = xLabelStride(axes.x, plotWidth);
  axes.x.ticks.forEach((tick, i) => {
    const x = sx(tick.value);
    out.push(line(x, plotTop, x, plotBottom, "#e8e8e8", 1));
    out.push(line(x, plotBottom, x, plotBottom + 4, "#888", 1));
    if (i % xLabelEvery === 0) {
      out.push(text(x, plotBottom + 6 + TICK_SIZE, tick.label, { size: TICK_SIZE, anchor: "middle", color: MUTED_TEXT, cls: "tick x" }));
    }
  });
  out.push(`<rect x="${n(plotLeft)}" y="${n(plotTop)}" width="${n(plotWidth)}" height="${n(plotHeight)}" fill="none" stroke="#999" stroke-width="1"/>`);

  // Axis labels.
  if (panel.xLabel) {
    out.push(text(plotLeft + plotWidth / 2, plotBottom + TICK_SIZE + 14 + LABEL_SIZE, panel.xLabel, { size: LABEL_SIZE, anchor: "middle", cls: "axis-label x" }));
  }
  const yLabelX = 12 + LABEL_SIZE * 0.8;
  const yLabelY = plotTop + plotHeight / 2;
  out.push(
    `<text class="axis-label y" x="${n(yLabelX)}" y="${n(yLabelY)}" font-size="${LABEL_SIZE}" fill="${TEXT_COLOR}" text-anchor="middle" transform="rotate(-90 ${n(yLabelX)} ${n(yLabelY)})">${escapeXml(panel.yLabel)}</text>`,
  );

  // Data, clipped to the plot so a point on the axis edge never spills into the labels.
  const clipId = `plot-${box.id}`;
  out.push(`<clipPath id="${clipId}"><rect x="${n(plotLeft - 8)}" y="${n(plotTop - 8)}" width="${n(plotWidth + 16)}" height="${n(plotHeight + 16)}"/></clipPath>`);
  out.push(`<g clip-path="url(#${clipId})">`);
  for (const ref of panel.referenceLines ?? []) {
    if (!Number.isFinite(ref.value) || (ref.axis === "y" && axes.yLog && ref.value <= 0)) continue;
    const dash = dashArray(ref.dash ?? "dashed", 1.5);
    const attrs = `stroke="${ref.color}" stroke-width="1.5"${dash ? ` stroke-dasharray="${dash}"` : ""}`;
    const coords = ref.axis === "y" ? [plotLeft, sy(ref.value), plotRight, sy(ref.value)] : [sx(ref.value), plotTop, sx(ref.value), plotBottom];
    out.push(
      `<line class="reference" data-label="${escapeXml(ref.label)}" x1="${n(coords[0])}" y1="${n(coords[1])}" x2="${n(coords[2])}" y2="${n(coords[3])}" ${attrs}/>`,
    );
  }
  for (const s of panel.series) out.push(renderSeries(s, sx, sy, axes.yLog));
  out.push("</g>");
  if (!axes.hasData && panel.emptyText) {
    out.push(text(plotLeft + plotWidth / 2, plotTop + plotHeight / 2, panel.emptyText, { size: LABEL_SIZE, anchor: "middle", color: "#888", cls: "empty" }));
  }
  out.push("</g>");
  return out.join("\n");
}

/** Labels every k-th x tick so that neighbouring labels keep a gap between them. */
function xLabelStride(axis: AxisTicks, plotWidth: number): number {
  const widest = Math.max(...axis.ticks.map((t) => textWidth(t.label, TICK_SIZE)));
  const spacing = plotWidth / Math.max(1, axis.ticks.length - 1);
  return Math.max(1, Math.ceil((widest + 12) / spacing));
}

function renderSeries(s: ChartSeries, sx: (x: number) => number, sy: (y: number) => number, yLog: boolean): string {
  const opacity = s.opacity ?? 1;
  const width = s.lineWidth ?? 2;
  const drawable = (x: number, y: number): boolean => Number.isFinite(x) && Number.isFinite(y) && (!yLog || y > 0);
  const out: string[] = [`<g class="series" data-name="${escapeXml(s.name)}" opacity="${opacity}">`];
  if (s.draw !== "markers") {
    const dash = dashArray(s.dash ?? "solid", width);
    let run: string[] = [];
    const flush = (): void => {
      if (run.length >= 2) {
        out.push(
          `<polyline points="${run.join(" ")}" fill="none" stroke="${s.color}" stroke-width="${width}" stroke-linejoin="round" stroke-linecap="round"${dash ? ` stroke-dasharray="${dash}"` : ""}/>`,
        );
      }
      run = [];
    };
    for (const [x, y] of s.points) {
      if (drawable(x, y)) run.push(`${n(sx(x))},${n(sy(y))}`);
      else flush();
    }
    flush();
  }
  // A lone point between gaps would vanish as a line, so it always gets a marker.
  const markerAll = s.draw !== "line";
  s.points.forEach(([x, y], i) => {
    if (!drawable(x, y)) return;
    const prev = s.points[i - 1];
    const next = s.points[i + 1];
    const isolated = !(prev && drawable(prev[0], prev[1])) && !(next && drawable(next[0], next[1]));
    if (markerAll || isolated) out.push(marker(s.marker ?? "circle", sx(x), sy(y), s.markerRadius ?? (markerAll ? 3.5 : 2), s.color));
  });
  out.push("</g>");
  return out.join("\n");
}

function legendEntry(item: LegendItem, x: number, y: number): string {
  const parts: string[] = [`<g class="legend-item" data-label="${escapeXml(item.label)}" opacity="${item.opacity}">`];
  if (item.line) {
    const dash = dashArray(item.dash, 2);
    parts.push(`<line x1="${n(x)}" y1="${n(y)}" x2="${n(x + 22)}" y2="${n(y)}" stroke="${item.color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ""}/>`);
  }
  if (item.marker) parts.push(marker(item.marker, x + 11, y, Math.min(4, item.markerRadius + 0.5), item.color));
  parts.push(text(x + 28, y + LEGEND_SIZE * 0.35, item.label, { size: LEGEND_SIZE, cls: "legend" }));
  parts.push("</g>");
  return parts.join("");
}

function marker(shape: MarkerShape, x: number, y: number, r: number, color: string): string {
  switch (shape) {
    case "circle":
      return `<circle cx="${n(x)}" cy="${n(y)}" r="${n(r)}" fill="${color}"/>`;
    case "square":
      return `<rect x="${n(x - r)}" y="${n(y - r)}" width="${n(2 * r)}" height="${n(2 * r)}" fill="${color}"/>`;
    case "diamond": {
      const d = r * 1.3;
      return `<path d="M${n(x)} ${n(y - d)}L${n(x + d)} ${n(y)}L${n(x)} ${n(y + d)}L${n(x - d)} ${n(y)}Z" fill="${color}"/>`;
    }
    case "cross":
      return `<path d="M${n(x - r)} ${n(y - r)}L${n(x + r)} ${n(y + r)}M${n(x - r)} ${n(y + r)}L${n(x + r)} ${n(y - r)}" stroke="${color}" stroke-width="2" fill="none"/>`;
  }
}

function dashArray(dash: LineDash, width: number): string | undefined {
  if (dash === "dashed") return `${n(width * 3.5)} ${n(width * 2.5)}`;
  if (dash === "dotted") return `${n(width)} ${n(width * 2)}`;
  return undefined;
}

function line(x1: number, y1: number, x2: number, y2: number, color: string, width: number): string {
  return `<line x1="${n(x1)}" y1="${n(y1)}" x2="${n(x2)}" y2="${n(y2)}" stroke="${color}" stroke-width="${width}"/>`;
}

interface TextStyle {
  size: number;
  anchor?: "start" | "middle" | "end";
  weight?: "bold";
  color?: string;
  cls?: string;
}

function text(x: number, y: number, content: string, style: TextStyle): string {
  const attrs = [
    style.cls ? `class="${style.cls}"` : "",
    `x="${n(x)}"`,
    `y="${n(y)}"`,
    `font-size="${style.size}"`,
    `fill="${style.color ?? TEXT_COLOR}"`,
    style.anchor && style.anchor !== "start" ? `text-anchor="${style.anchor}"` : "",
    style.weight ? `font-weight="${style.weight}"` : "",
  ].filter(Boolean);
  return `<text ${attrs.join(" ")}>${escapeXml(content)}</text>`;
}

/** Coordinates with two decimals: sharp enough for rasterising, short enough to keep the SVG small. */
function n(value: number): string {
  return String(Math.round(value * 100) / 100);
}
