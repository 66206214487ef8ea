// The four pictures of a run (loss, schedules, collapse checks, probe accuracy) as chart figures built from its history.
import { OKABE_ITO } from "./palette.js";
import type { RunHistory } from "./run_history.js";
import { emaDecayFor, emaSmooth } from "./smoothing.js";
import type { ChartFigure, ChartSeries, ReferenceLine } from "./svg_chart.js";

const FIGURE_WIDTH = 900;
const RESUME_COLOR = "#777777";

export type LossScale = "auto" | "log" | "linear";

/** Loss per logged step (faint points), its EMA (the line to read), epoch means, and where the run resumed. */
/** A figure 1800 px wide cannot show more: long runs are thinned so the SVG stays small and quick to draw. */
const MAX_MARKERS = 4000;
const MAX_LINE_POINTS = 2000;

/** Every k-th point (and the last), at most `max` of them; non-finite points are always kept (they mark gaps). */
export function thin<T extends readonly [number, number]>(points: readonly T[], max: number): T[] {
  if (points.length <= max) return [...points];
  const stride = Math.ceil(points.length / max);
  return points.filter((p, i) => i % stride === 0 || i === points.length - 1 || !Number.isFinite(p[1]));
}

export function lossFigure(history: RunHistory, scale: LossScale = "auto"): ChartFigure {
  const raw = history.steps.map((s) => [s.step, s.loss] as const);
  const smoothed = emaSmooth(
    raw.map(([, loss]) => loss),
    emaDecayFor(raw.length),
  );
  const series: ChartSeries[] = [
    { name: "loss per step", points: thin(raw, MAX_MARKERS), color: OKABE_ITO.skyBlue, draw: "markers", markerRadius: 1.8, opacity: 0.55 },
    { name: "loss (EMA)", points: thin(raw.map(([step], i) => [step, smoothed[i]] as const), MAX_LINE_POINTS), color: OKABE_ITO.blue, draw: "line", lineWidth: 2.2 },
    { name: "epoch mean", points: epochMeanSegments(history), color: OKABE_ITO.orange, draw: "line", lineWidth: 2.5 },
  ];
  const referenceLines: ReferenceLine[] = [
    ...resumeLines(history),
    ...history.steps
      .filter((s) => !Number.isFinite(s.loss))
      .map((s): ReferenceLine => ({ axis: "x", value: s.step, label: "non-finite loss", color: OKABE_ITO.vermillion, dash: "solid" })),
  ];
  return {
    title: "Training loss",
    width: FIGURE_WIDTH,
    panels: [
      {
        xLabel: "step",
        yLabel: useLogScale(history, scale) ? "loss (log scale)" : "loss",
        yScale: useLogScale(history, scale) ? "log" : "linear",
        series,
        referenceLines,
        xInclude: [0],
        height: 420,
        emptyText: "no finite loss logged",
      },
    ],
  };
}

/** Learning rate, weight decay and EMA momentum per logged step: three small panels sharing the step axis. */
export function schedulesFigure(history: RunHistory): ChartFigure {
  const panel = (yLabel: string, pick: (s: RunHistory["steps"][number]) => number, color: string, first: boolean, last: boolean) => ({
    yLabel,
    xLabel: last ? "step" : undefined,
    series: [{ name: yLabel, points: thin(history.steps.map((s) => [s.step, pick(s)] as const), MAX_LINE_POINTS), color, draw: "line" as const, legend: false }],
    // Every panel marks the resume; only the first names it in a legend.
    referenceLines: resumeLines(history).map((r) => ({ ...r, legend: first })),
    xInclude: [0],
    height: (last ? 210 : 185) + (first && history.starts.some((s) => s.resumed) ? 20 : 0),
    emptyText: `no ${yLabel} logged`,
  });
  return {
    title: "Schedules",
    width: FIGURE_WIDTH,
    panels: [
      panel("learning rate", (s) => s.lr, OKABE_ITO.blue, true, false),
      panel("weight decay", (s) => s.wd, OKABE_ITO.bluishGreen, false, false),
      panel("EMA momentum", (s) => s.momentum, OKABE_ITO.reddishPurple, false, true),
    ],
  };
}

/**
 * Per-epoch collapse checks: the spread of target features (with the threshold below which the
 * trainer warns) and their effective rank. Both falling towards 0 / 1 is what collapse looks like.
 */
export function collapseFigure(history: RunHistory, collapseStdThreshold?: number): ChartFigure {
  const warned = history.epochs.filter((e) => e.collapseWarning);
  const stdSeries: ChartSeries[] = [
    { name: "target feature std", points: history.epochs.map((e) => [e.epoch, e.targetStd] as const), color: OKABE_ITO.blue, draw: "line+markers" },
  ];
  if (warned.length) {
    stdSeries.push({
      name: "collapse warning",
      points: warned.map((e) => [e.epoch, e.targetStd] as const),
      color: OKABE_ITO.vermillion,
      draw: "markers",
      marker: "cross",
      markerRadius: 6,
    });
  }
  const threshold: ReferenceLine[] =
    collapseStdThreshold !== undefined && Number.isFinite(collapseStdThreshold)
      ? [{ axis: "y", value: collapseStdThreshold, label: `collapse threshold (${collapseStdThreshold})`, color: OKABE_ITO.vermillion, dash: "dashed" }]
      : [];
  return {
    title: "Representation collapse checks",
    width: FIGURE_WIDTH,
    panels: [
      {
        yLabel: "target std",
        series: stdSeries,
        referenceLines: threshold,
        xInteger: true,
        yInclude: [0],
        height: 250,
        emptyText: "no finished epoch yet",
      },
      {
        xLabel: "epoch",
        yLabel: "effective rank",
        series: [
          {
            name: "effective rank (RankMe)",
            points: history.epochs.map((e) => [e.epoch, e.effectiveRank] as const),
            color: OKABE_ITO.bluishGreen,
            draw: "line+markers",
            marker: "square",
          },
        ],
        xInteger: true,
        yInclude: [0],
        height: 260,
        emptyText: "no finished epoch yet",
      },
    ],
  };
}

/** Linear-probe and kNN top-1 accuracy per probed step, with the raw-pixel and random-init baselines as flat lines. */
export function probeFigure(history: RunHistory): ChartFigure {
  const probes = history.probes;
  const latestWithBaselines = [...probes].reverse().find((p) => p.baselines?.raw || p.baselines?.random);
  const baselines: ReferenceLine[] = [];
  const raw = latestWithBaselines?.baselines?.raw;
  const random = latestWithBaselines?.baselines?.random;
  if (raw) {
    baselines.push({ axis: "y", value: raw.linearTop1, label: "raw pixels, linear", color: OKABE_ITO.blue, dash: "dashed" });
    baselines.push({ axis: "y", value: raw.knnTop1, label: "raw pixels, kNN", color: OKABE_ITO.orange, dash: "dashed" });
  }
  if (random) {
    baselines.push({ axis: "y", value: random.linearTop1, label: "random init, linear", color: OKABE_ITO.blue, dash: "dotted" });
    baselines.push({ axis: "y", value: random.knnTop1, label: "random init, kNN", color: OKABE_ITO.orange, dash: "dotted" });
  }
  const dataset = probes.find((p) => p.dataset)?.dataset;
  return {
    title: dataset ? `Probe accuracy on ${dataset}` : "Probe accuracy",
    width: FIGURE_WIDTH,
    panels: [
      {
        xLabel: "step",
        yLabel: "top-1 accuracy",
        yFormat: "percent",
        series: [
          { name: "linear probe", points: probes.map((p) => [p.step, p.linearTop1] as const), color: OKABE_ITO.blue, draw: "line+markers" },
          { name: "kNN", points: probes.map((p) => [p.step, p.knnTop1] as const), color: OKABE_ITO.orange, draw: "line+markers", marker: "square" },
        ],
        referenceLines: baselines,
        xInclude: [0],
        height: 420,
        emptyText: "no probe result yet",
      },
    ],
  };
}

/** Log scale when the loss spans a decade or more (robustly: 5th to 95th percentile), else linear. */
export function useLogScale(history: RunHistory, scale: LossScale): boolean {
  if (scale !== "auto") return scale === "log";
  const losses = history.steps.map((s) => s.loss).filter((v) => Number.isFinite(v));
  if (losses.length < 2 || losses.some((v) => v <= 0)) return false;
  losses.sort((a, b) => a - b);
  const at = (q: number): number => losses[Math.min(losses.length - 1, Math.floor(q * losses.length))];
  return at(0.95) / at(0.05) >= 10;
}

/**
 * Each epoch's mean loss as a flat segment over the steps it averages (from the previous epoch's end,
 * or the first step logged in that epoch), separated by gaps: a mean drawn at the epoch's last step
 * would sit above the curve and look like a lag.
 */
export function epochMeanSegments(history: RunHistory): (readonly [number, number])[] {
  const points: (readonly [number, number])[] = [];
  history.epochs.forEach((e, i) => {
    const previous = history.epochs[i - 1];
    const firstLogged = history.steps.find((s) => s.epoch === e.epoch)?.step;
    const start = previous && previous.epoch === e.epoch - 1 ? previous.step : (firstLogged ?? e.step);
    if (points.length) points.push([start, NaN]);
    points.push([start, e.meanLoss], [e.step, e.meanLoss]);
  });
  return points;
}

function resumeLines(history: RunHistory): ReferenceLine[] {
  return history.starts
    .filter((s) => s.resumed)
    .map((s): ReferenceLine => ({ axis: "x", value: s.step, label: "resumed here", color: RESUME_COLOR, dash: "dotted" }));
}
