// The embedding picture: test images on their top two principal axes, random init beside pretrained, coloured by class.
import type { TopLevelSpec } from "vega-lite";
import type { EmbeddingProjectionDocument, ProbeEmbeddingDocument } from "../run/probe_embedding.js";
import { CHART_CONFIG } from "./chart_style.js";

/** Beyond this many classes a legend would be taller than the picture: colours alone must do. */
const MAX_LEGEND_CLASSES = 20;
/** Square panels; renderChartSvg scales the whole figure to the report's width. */
const PANEL_SIZE = 330;

/** Class name of a label: the manifest's when the probe recorded them, else "class <n>". */
export function classNameOf(label: number, classNames?: readonly string[]): string {
  return classNames?.[label] ?? (label < 0 ? "unlabelled" : `class ${label}`);
}

/**
 * Two scatter plots side by side (random init first, then the encoder at the probed step), one colour
 * per class shared by both. Each panel has its own axes: PCA coordinates of two encoders are not
 * comparable, only the shape of each cloud is (classes apart or mixed).
 */
export function embeddingChart(doc: ProbeEmbeddingDocument): TopLevelSpec {
  const labels = [...new Set([...doc.trained.labels, ...(doc.randomInit?.labels ?? [])])].sort((a, b) => a - b);
  const domain = labels.map((l) => classNameOf(l, doc.classNames));
  const color = {
    field: "class",
    type: "nominal",
    title: "class",
    scale: { domain, scheme: labels.length <= 10 ? "tableau10" : "tableau20" },
    legend:
      labels.length <= MAX_LEGEND_CLASSES
        ? { orient: "right", direction: "vertical", symbolType: "circle", symbolSize: 90, titleFontSize: 13 }
        : null,
  };
  const panel = (title: string, p: EmbeddingProjectionDocument): object => ({
    title: { text: title, fontSize: 14, fontWeight: "normal" },
    width: PANEL_SIZE,
    height: PANEL_SIZE,
    data: { values: p.x.map((x, i) => ({ x, y: p.y[i], class: classNameOf(p.labels[i], doc.classNames) })) },
    // fillOpacity, not opacity: librsvg composites every element with opacity on its own, ~10 s for 4,000 points.
    // aria: false keeps a screen-reader label per point (half the SVG) out; the figure has one label.
    mark: { type: "circle", size: 14, opacity: 1, fillOpacity: 0.7, aria: false, tooltip: { content: "data" } },
    encoding: {
      x: {
        field: "x",
        type: "quantitative",
        title: `PC 1 (${percent(p.explainedVariance[0])} of variance)`,
        axis: { tickCount: 5 },
      },
      y: {
        field: "y",
        type: "quantitative",
        title: `PC 2 (${percent(p.explainedVariance[1])} of variance)`,
        axis: { tickCount: 5 },
      },
      color,
    },
  });
  const panels = [
    ...(doc.randomInit ? [panel("random init (step 0)", doc.randomInit)] : []),
    panel(`pretrained (step ${doc.step})`, doc.trained),
  ];
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: `Test-set embeddings on their two main axes (PCA, ${doc.trained.count} images)` },
    config: { ...CHART_CONFIG, view: { stroke: "#999", fill: "#ffffff" } },
    hconcat: panels,
    spacing: 30,
    resolve: { scale: { x: "independent", y: "independent", color: "shared" } },
  } as TopLevelSpec;
}

function percent(share: number): string {
  return `${(share * 100).toFixed(share >= 0.1 ? 0 : 1)} %`;
}
