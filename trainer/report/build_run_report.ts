// Builds a run's report/ folder: PNGs drawn from Vega-Lite specs, then report.html with the same charts live.
import { parse as parseYaml } from "yaml";
import {
  CONFIG_KEY,
  MASKS_FIGURE_KEY,
  METRICS_KEY,
  PROBE_HISTORY_KEY,
  REPORT_HTML_KEY,
  REPORT_PREFIX,
  probeEmbeddingKey,
  reportKey,
} from "../run/run_layout.js";
import { type ProbeEmbeddingDocument, probeEmbeddingSchema } from "../run/probe_embedding.js";
import { trainConfigSchema } from "../config/schema.js";
import { CorruptDataError, DataError, NotFoundError } from "../errors.js";
import { type ObjectStore, getJson } from "../storage/object_store.js";
import type { TopLevelSpec } from "vega-lite";
import { FIGURE_WIDTH } from "./chart_style.js";
import { embeddingChart } from "./embedding_chart.js";
import {
  type LossScale,
  collapseChart,
  lossChart,
  probeChart,
  schedulesChart,
  useLogScale,
} from "./run_chart_specs.js";
import { readRunHistory } from "./run_history.js";
import { summariseRun } from "./run_summary.js";
import { type ReportFigure, renderReportHtml } from "./report_html.js";
import { svgToPng } from "./svg_to_png.js";
import { compileChart, renderChartSvg } from "./vega_render.js";

export { REPORT_HTML_KEY };

export interface RunReportOptions {
  /** Where the std threshold line goes; defaults to config.yaml's logging.collapse_std_threshold (or the schema's default). */
  collapseStdThreshold?: number;
  lossScale?: LossScale;
  /** PNG pixels per SVG unit (2 = sharp on high-density screens). */
  pixelRatio?: number;
  /** Clock for the "generated" line (tests pin it). */
  now?: Date;
}

export interface RunReport {
  /** Keys written, relative to the run, report.html last. */
  files: string[];
  /** Why a picture was left out, and lines of the inputs that could not be read. */
  notes: string[];
}

/**
 * Reads metrics.jsonl (and probe/history.jsonl when a probe has run) from the run's store and writes
 * report/*.png and report/report.html. Pictures without data yet (no finished epoch, no probe) are
 * left out and the page says why. Each file is put atomically; the HTML goes last so a reader never
 * opens a page whose pictures are not there. Throws NotFoundError without metrics.jsonl and
 * DataError when it holds no step at all.
 */
export async function buildRunReport(store: ObjectStore, options: RunReportOptions = {}): Promise<RunReport> {
  const history = await readRunHistory(store);
  if (history.steps.length === 0) {
    const what = history.starts.length
      ? `only ${history.starts.length} start record(s) and no step record`
      : "no step record";
    throw new DataError(
      `cannot build a report for ${store.baseUri}: ${store.uriOf(METRICS_KEY)} has ${what}` +
        (history.problems.length ? ` (${history.problems.length} unreadable line(s): ${history.problems[0]})` : ""),
      "wait until training has logged its first step (every logging.log_every steps), or check the training job's log for why it stopped",
    );
  }
  const notes: string[] = [];
  const threshold = options.collapseStdThreshold ?? (await collapseThresholdFromConfig(store, notes));

  const pictures: { file: string; spec: TopLevelSpec; heading: string; alt: string }[] = [
    {
      file: "loss.png",
      spec: lossChart(history, options.lossScale),
      heading: "Loss",
      alt: `Training loss per step${useLogScale(history, options.lossScale ?? "auto") ? " on a log scale" : ""}, with its moving average and epoch means`,
    },
    {
      file: "schedules.png",
      spec: schedulesChart(history),
      heading: "Schedules",
      alt: "Learning rate, weight decay and EMA momentum per step",
    },
  ];
  if (history.epochs.length) {
    pictures.push({
      file: "collapse.png",
      spec: collapseChart(history, threshold),
      heading: "Collapse checks",
      alt: "Target feature standard deviation and effective rank per epoch",
    });
  } else {
    notes.push("No collapse chart yet: no epoch has finished.");
  }
  if (history.probes.length) {
    pictures.push({
      file: "probe.png",
      spec: probeChart(history),
      heading: "Probe accuracy",
      alt: "Linear-probe and kNN top-1 accuracy per probed step, with baselines",
    });
    const embedding = await readProbeEmbedding(store, history.probes[history.probes.length - 1].step, notes);
    if (embedding) {
      pictures.push({
        file: "embedding.png",
        spec: embeddingChart(embedding),
        heading: "What pretraining changed: test-set embeddings",
        alt:
          `Test images on the top two principal axes of their embeddings, coloured by class: ` +
          `${embedding.randomInit ? "the random-init encoder beside " : ""}the encoder at step ${embedding.step}`,
      });
    }
  } else {
    notes.push(`No probe chart yet: ${store.uriOf(PROBE_HISTORY_KEY)} has no probe result.`);
  }
  notes.push(...history.problems.map((p) => `Skipped ${p}`));

  const pngs: Uint8Array[] = [];
  // One at a time: each render holds a whole scenegraph, and the machine may be training beside us.
  for (const p of pictures) {
    pngs.push(await svgToPng(await renderChartSvg(p.spec, FIGURE_WIDTH), options.pixelRatio ?? 2));
  }
  const files: string[] = [];
  for (let i = 0; i < pictures.length; i++) {
    const key = reportKey(pictures[i].file);
    await store.put(key, pngs[i], { contentType: "image/png" });
    files.push(key);
  }
  const figures: ReportFigure[] = pictures.map((p) => ({
    file: p.file,
    heading: p.heading,
    alt: p.alt,
    width: FIGURE_WIDTH,
    spec: compileChart(p.spec),
  }));
  // Drawn by the trainer at the run's first step (the crops it trained on, with their masks).
  if (await store.head(MASKS_FIGURE_KEY)) {
    figures.push({
      file: MASKS_FIGURE_KEY.slice(REPORT_PREFIX.length),
      heading: "Masks of the first batch",
      alt: "Training crops of the first batch; the context the encoder sees; the target blocks the predictor predicts, one colour each",
      width: 900,
    });
  }
  const configName = history.starts.find((s) => s.configName)?.configName;
  const html = renderReportHtml({
    title: configName ? `I-JEPA run report: ${configName}` : "I-JEPA run report",
    runUri: store.baseUri,
    generatedAt: options.now ?? new Date(),
    rows: summariseRun(history, threshold),
    figures,
    notes,
  });
  await store.put(REPORT_HTML_KEY, html, { contentType: "text/html; charset=utf-8" });
  files.push(REPORT_HTML_KEY);
  return { files, notes };
}

/** probe/<step>.embedding.json of the latest probe, or undefined (with a note saying why). */
async function readProbeEmbedding(
  store: ObjectStore,
  step: number,
  notes: string[],
): Promise<ProbeEmbeddingDocument | undefined> {
  const key = probeEmbeddingKey(step);
  let value: unknown;
  try {
    value = await getJson(store, key);
  } catch (err) {
    if (err instanceof NotFoundError) {
      notes.push(
        `No embedding picture: ${store.uriOf(key)} is missing (probed before probes wrote one? probe that step again).`,
      );
      return undefined;
    }
    if (err instanceof CorruptDataError) {
      notes.push(`No embedding picture: ${err.message}.`);
      return undefined;
    }
    throw err;
  }
  const parsed = probeEmbeddingSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problem = parsed.error.issues[0]?.message ?? "unknown problem";
  notes.push(`No embedding picture: ${store.uriOf(key)} does not validate (${problem}).`);
  return undefined;
}

/** logging.collapse_std_threshold from the run's config.yaml, or undefined (with a note saying why). */
async function collapseThresholdFromConfig(store: ObjectStore, notes: string[]): Promise<number | undefined> {
  let text: string;
  try {
    text = new TextDecoder().decode(await store.get(CONFIG_KEY));
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    notes.push(`No collapse threshold line: ${store.uriOf(CONFIG_KEY)} is missing.`);
    return undefined;
  }
  let config: unknown;
  try {
    config = parseYaml(text);
  } catch (err) {
    notes.push(
      `No collapse threshold line: ${store.uriOf(CONFIG_KEY)} is not valid YAML (${(err as Error).message.split("\n")[0]}).`,
    );
    return undefined;
  }
  // Validating just the logging section applies the schema's default, the threshold the trainer used.
  const logging = (config as { logging?: unknown } | null)?.logging;
  const parsed = trainConfigSchema.shape.logging.safeParse(logging);
  if (parsed.success) return parsed.data.collapse_std_threshold;
  const value = (logging as { collapse_std_threshold?: unknown } | undefined)?.collapse_std_threshold;
  if (typeof value === "number" && Number.isFinite(value)) return value;
  notes.push(
    `No collapse threshold line: the logging section of ${store.uriOf(CONFIG_KEY)} does not validate (${parsed.error.issues[0]?.message ?? "unknown problem"}).`,
  );
  return undefined;
}
