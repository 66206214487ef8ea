// The four pictures of a run (loss, schedules, collapse checks, probe accuracy) as Vega-Lite specs of its history.
import type { TopLevelSpec } from "vega-lite";
import { CHART_CONFIG, FIGURE_WIDTH, type SeriesStyle, dashOf, markerSize, seriesEncoding } from "./chart_style.js";
import { OKABE_ITO } from "./palette.js";
import type { RunHistory } from "./run_history.js";
import { emaDecayFor, emaSmooth } from "./smoothing.js";

const RESUME_COLOR = "#777777";
const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";

export type LossScale = "auto" | "log" | "linear";

/** A figure 1800 px wide cannot show more: long runs are thinned so the chart stays small and quick to draw. */
const MAX_MARKERS = 4000;
const MAX_LINE_POINTS = 2000;

/** Every k-th point (and the last), at most `max` of them; non-finite points are always kept (they mark gaps). */
export function thin<T extends readonly [number, number]>(points: readonly T[], max: number): T[] {
  if (points.length <= max) return [...points];
  const stride = Math.ceil(points.length / max);
  return points.filter((p, i) => i % stride === 0 || i === points.length - 1 || !Number.isFinite(p[1]));
}

/** One row per point; a value a chart cannot draw becomes null (JSON has no NaN), which breaks a line there. */
type Row = Record<string, number | string | null>;

/**
 * In the live page: drag to pan, wheel to zoom (double-click resets); the PNG ignores it. Only on the
 * dense loss chart: binding scales clips marks to the plot, which would cut the sparse charts' edge markers in half.
 */
const ZOOM = [{ name: "zoom", select: "interval", bind: "scales" }];

const STEP_X = { field: "step", type: "quantitative", title: "step", scale: { zero: true } } as const;

/** Loss per logged step (faint points), its EMA (the line to read), epoch means, and where the run resumed. */
export function lossChart(history: RunHistory, scale: LossScale = "auto"): TopLevelSpec {
  const log = useLogScale(history, scale);
  const drawable = (v: number): number | null => (Number.isFinite(v) && (!log || v > 0) ? v : null);
  const raw = history.steps.map((s) => [s.step, s.loss] as const);
  const smoothed = emaSmooth(
    raw.map(([, loss]) => loss),
    emaDecayFor(raw.length),
  );
  const perStep = thin(raw, MAX_MARKERS)
    .filter(([, loss]) => drawable(loss) !== null)
    .map(([step, loss]): Row => ({ series: "loss per step", step, loss }));
  const ema = thin(
    raw.map(([step], i) => [step, smoothed[i]] as const),
    MAX_LINE_POINTS,
  ).map(([step, loss]): Row => ({ series: "loss (EMA)", step, loss: drawable(loss) }));
  const means = epochMeans(history)
    .filter((m) => drawable(m.meanLoss) !== null)
    .map((m): Row => ({ series: "epoch mean", step: m.start, end: m.end, loss: m.meanLoss }));
  const resumes = resumeRows(history);
  const nonFinite = history.steps
    .filter((s) => !Number.isFinite(s.loss))
    .map((s): Row => ({ series: "non-finite loss", step: s.step }));

  const styles: SeriesStyle[] = [];
  if (perStep.length) styles.push({ name: "loss per step", color: OKABE_ITO.skyBlue, symbol: "circle" });
  if (ema.some((r) => r.loss !== null)) styles.push({ name: "loss (EMA)", color: OKABE_ITO.blue });
  if (means.length) styles.push({ name: "epoch mean", color: OKABE_ITO.orange });
  if (resumes.length) styles.push({ name: "resumed here", color: RESUME_COLOR, dash: "dotted" });
  if (nonFinite.length) styles.push({ name: "non-finite loss", color: OKABE_ITO.vermillion });
  const enc = seriesEncoding(styles);
  const y = {
    field: "loss",
    type: "quantitative",
    title: log ? "loss (log scale)" : "loss",
    scale: log ? { type: "log" } : { zero: false },
  } as const;
  const layer: object[] = [
    {
      data: { values: perStep },
      params: ZOOM,
      // Faint through fillOpacity (cheap for librsvg, unlike opacity), without a screen-reader label per point.
      mark: {
        type: "point",
        filled: true,
        size: markerSize(3.6),
        opacity: 1,
        fillOpacity: 0.55,
        aria: false,
        tooltip: true,
      },
      encoding: { x: STEP_X, y, ...enc },
    },
    { data: { values: ema }, mark: { type: "line", strokeWidth: 2.2 }, encoding: { x: STEP_X, y, color: enc.color } },
    {
      data: { values: means },
      mark: { type: "rule", strokeWidth: 2.5 },
      encoding: { x: STEP_X, x2: { field: "end" }, y, color: enc.color },
    },
    ...verticalRules([...resumes, ...nonFinite], enc),
  ];
  if (perStep.length === 0) layer.push(emptyText("no finite loss logged"));
  return chart("Training loss", {
    width: FIGURE_WIDTH,
    height: 400,
    autosize: { type: "fit-x", contains: "padding" },
    layer,
  });
}

/** Learning rate, weight decay and EMA momentum per logged step: three small panels sharing the step axis. */
export function schedulesChart(history: RunHistory): TopLevelSpec {
  const resumes = resumeRows(history);
  const panel = (
    title: string,
    field: "lr" | "wd" | "momentum",
    color: string,
    first: boolean,
    last: boolean,
  ): object => {
    const values = thin(
      history.steps.map((s) => [s.step, s[field]] as const),
      MAX_LINE_POINTS,
    ).map(([step, v]): Row => ({ step, value: Number.isFinite(v) ? v : null }));
    const y = {
      field: "value",
      type: "quantitative",
      title,
      // 2e-4 reads better than 0.0002 on a learning-rate axis.
      axis:
        field === "lr"
          ? { labelExpr: "datum.value === 0 ? '0' : format(datum.value, '~e')", tickCount: 5 }
          : { tickCount: 4 },
      // Fitted to the data, as the old charts were: a weight decay creeping from 0.04 to 0.04006 still shows a curve.
      scale: { zero: false },
    } as const;
    const x = { ...STEP_X, title: last ? "step" : null };
    // Every panel marks the resume; only the first names it in a legend.
    const enc = seriesEncoding(
      first && resumes.length ? [{ name: "resumed here", color: RESUME_COLOR, dash: "dotted" }] : [],
    );
    const layer: object[] = [
      { data: { values }, mark: { type: "line", strokeWidth: 2, color }, encoding: { x, y } },
      first ? verticalRules(resumes, enc) : noLegendRules(resumes, RESUME_COLOR),
    ].flat();
    if (!values.some((r) => r.value !== null)) layer.push(emptyText(`no ${title} logged`));
    return { width: FIGURE_WIDTH - 90, height: 150, layer };
  };
  return chart("Schedules", {
    vconcat: [
      panel("learning rate", "lr", OKABE_ITO.blue, true, false),
      panel("weight decay", "wd", OKABE_ITO.bluishGreen, false, false),
      panel("EMA momentum", "momentum", OKABE_ITO.reddishPurple, false, true),
    ],
    spacing: 18,
    resolve: { scale: { x: "shared", y: "independent" } },
  });
}

/**
 * Per-epoch collapse checks: the spread of target features (with the threshold below which the
 * trainer warns) and their effective rank. Both falling towards 0 / 1 is what collapse looks like.
 */
export function collapseChart(history: RunHistory, collapseStdThreshold?: number): TopLevelSpec {
  const epochX = (title: string | null) =>
    ({
      field: "epoch",
      type: "quantitative",
      title,
      scale: { zero: true },
      axis: { tickMinStep: 1, format: "d" },
    }) as const;
  const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);
  const std = history.epochs.map(
    (e): Row => ({ series: "target feature std", epoch: e.epoch, value: finite(e.targetStd) }),
  );
  const warned = history.epochs
    .filter((e) => e.collapseWarning && Number.isFinite(e.targetStd))
    .map((e): Row => ({ series: "collapse warning", epoch: e.epoch, value: e.targetStd }));
  const hasThreshold = collapseStdThreshold !== undefined && Number.isFinite(collapseStdThreshold);
  const thresholdName = `collapse threshold (${collapseStdThreshold})`;
  const stdStyles: SeriesStyle[] = [{ name: "target feature std", color: OKABE_ITO.blue, symbol: "circle" }];
  if (warned.length) stdStyles.push({ name: "collapse warning", color: OKABE_ITO.vermillion, symbol: "cross" });
  if (hasThreshold) stdStyles.push({ name: thresholdName, color: OKABE_ITO.vermillion, dash: "dashed" });
  const stdEnc = seriesEncoding(stdStyles);
  const stdY = {
    field: "value",
    type: "quantitative",
    title: "target std",
    scale: { zero: true },
    axis: { tickCount: 5 },
  } as const;
  const stdPanel = {
    width: FIGURE_WIDTH - 90,
    height: 170,
    layer: [
      lineWithMarkers(std, { x: epochX(null), y: stdY }, stdEnc),
      {
        data: { values: warned },
        mark: { type: "point", filled: false, size: markerSize(11), strokeWidth: 2.5, opacity: 1 },
        encoding: { x: epochX(null), y: stdY, ...stdEnc },
      },
      ...(hasThreshold
        ? [
            {
              data: { values: [{ series: thresholdName, value: collapseStdThreshold }] },
              mark: { type: "rule", strokeWidth: 1.5 },
              encoding: { y: stdY, ...stdEnc },
            },
          ]
        : []),
    ],
  };
  const rank = history.epochs.map(
    (e): Row => ({ series: "effective rank (RankMe)", epoch: e.epoch, value: finite(e.effectiveRank) }),
  );
  const rankEnc = seriesEncoding([{ name: "effective rank (RankMe)", color: OKABE_ITO.bluishGreen, symbol: "square" }]);
  const rankY = {
    field: "value",
    type: "quantitative",
    title: "effective rank",
    scale: { zero: true },
    axis: { tickCount: 5 },
  } as const;
  const rankPanel = {
    width: FIGURE_WIDTH - 90,
    height: 180,
    layer: [lineWithMarkers(rank, { x: epochX("epoch"), y: rankY }, rankEnc)],
  };
  return chart("Representation collapse checks", {
    vconcat: [stdPanel, rankPanel],
    spacing: 18,
    resolve: {
      scale: { x: "shared", y: "independent", color: "independent", strokeDash: "independent", shape: "independent" },
    },
  });
}

/** Linear-probe and kNN top-1 accuracy per probed step, with the raw-pixel and random-init baselines as flat lines. */
export function probeChart(history: RunHistory): TopLevelSpec {
  const probes = history.probes;
  const latest = [...probes].reverse().find((p) => p.baselines?.raw || p.baselines?.random)?.baselines;
  const baselines: Row[] = [];
  const styles: SeriesStyle[] = [
    { name: "linear probe", color: OKABE_ITO.blue, symbol: "circle" },
    { name: "kNN", color: OKABE_ITO.orange, symbol: "square" },
  ];
  const addBaseline = (name: string, value: number, color: string, dash: "dashed" | "dotted"): void => {
    if (!Number.isFinite(value)) return;
    baselines.push({ series: name, value });
    styles.push({ name, color, dash });
  };
  if (latest?.raw) {
    addBaseline("raw pixels, linear", latest.raw.linearTop1, OKABE_ITO.blue, "dashed");
    addBaseline("raw pixels, kNN", latest.raw.knnTop1, OKABE_ITO.orange, "dashed");
  }
  if (latest?.random) {
    addBaseline("random init, linear", latest.random.linearTop1, OKABE_ITO.blue, "dotted");
    addBaseline("random init, kNN", latest.random.knnTop1, OKABE_ITO.orange, "dotted");
  }
  const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);
  const scores = probes.flatMap((p): Row[] => [
    { series: "linear probe", step: p.step, value: finite(p.linearTop1) },
    { series: "kNN", step: p.step, value: finite(p.knnTop1) },
  ]);
  const enc = seriesEncoding(styles);
  const y = {
    field: "value",
    type: "quantitative",
    title: "top-1 accuracy",
    axis: { format: ".0%" },
    scale: { zero: false },
  } as const;
  const dataset = probes.find((p) => p.dataset)?.dataset;
  return chart(dataset ? `Probe accuracy on ${dataset}` : "Probe accuracy", {
    width: FIGURE_WIDTH,
    height: 400,
    autosize: { type: "fit-x", contains: "padding" },
    layer: [
      lineWithMarkers(scores, { x: STEP_X, y }, enc),
      {
        data: { values: baselines },
        mark: { type: "rule", strokeWidth: 1.5 },
        encoding: { y, color: enc.color, strokeDash: enc.strokeDash },
      },
    ],
  });
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
 * Each epoch's mean loss over the steps it averages (from the previous epoch's end, or the first step
 * logged in that epoch), drawn as a flat segment: a mean drawn at the epoch's last step would sit above
 * the curve and look like a lag.
 */
export function epochMeans(history: RunHistory): { epoch: number; start: number; end: number; meanLoss: number }[] {
  return history.epochs.map((e, i) => {
    const previous = history.epochs[i - 1];
    const firstLogged = history.steps.find((s) => s.epoch === e.epoch)?.step;
    const start = previous && previous.epoch === e.epoch - 1 ? previous.step : (firstLogged ?? e.step);
    return { epoch: e.epoch, start, end: e.step, meanLoss: e.meanLoss };
  });
}

function resumeRows(history: RunHistory): Row[] {
  return history.starts.filter((s) => s.resumed).map((s): Row => ({ series: "resumed here", step: s.step }));
}

/** Series drawn as a line through a marker per point (sparse measurements: epochs, probes), sharing one dataset. */
function lineWithMarkers(rows: Row[], axes: { x: object; y: object }, enc: ReturnType<typeof seriesEncoding>): object {
  return {
    data: { values: rows },
    layer: [
      { mark: { type: "line", strokeWidth: 2.2 }, encoding: { ...axes, color: enc.color } },
      {
        mark: { type: "point", filled: true, size: markerSize(7), opacity: 1, tooltip: true },
        encoding: { ...axes, ...enc },
      },
    ],
  };
}

/** Vertical lines at steps (resumes, non-finite losses), styled and named by the chart's legend. */
function verticalRules(rows: Row[], enc: ReturnType<typeof seriesEncoding>): object[] {
  if (rows.length === 0) return [];
  return [
    {
      data: { values: rows },
      mark: { type: "rule", strokeWidth: 1.5 },
      encoding: { x: STEP_X, color: enc.color, strokeDash: enc.strokeDash },
    },
  ];
}

/** The same lines on a panel whose legend does not name them (the first panel of a stack already does). */
function noLegendRules(rows: Row[], color: string): object[] {
  if (rows.length === 0) return [];
  return [
    {
      data: { values: rows },
      mark: { type: "rule", strokeWidth: 1.5, color, strokeDash: dashOf("dotted") },
      encoding: { x: STEP_X },
    },
  ];
}

/** Said in the middle of a plot that has nothing to draw yet. */
function emptyText(text: string): object {
  return {
    data: { values: [{ text }] },
    mark: { type: "text", fontSize: 13, color: "#888", x: { expr: "width / 2" }, y: { expr: "height / 2" } },
    encoding: { text: { field: "text" } },
  };
}

function chart(title: string, body: object): TopLevelSpec {
  return { $schema: SCHEMA, title, config: CHART_CONFIG, ...body } as TopLevelSpec;
}
