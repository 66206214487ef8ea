// The run report page: one HTML file showing the PNGs beside it, drawn again live by an inlined copy of vega.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { Spec } from "vega";
import type { SummaryRow } from "./run_summary.js";
import { escapeXml } from "./svg_text.js";

export interface ReportFigure {
  /** File name relative to the HTML file, e.g. "loss.png". */
  file: string;
  heading: string;
  /** What the picture shows, for readers who cannot see it. */
  alt: string;
  /** Display width in CSS pixels (the PNG may have more pixels, for sharp high-density screens). */
  width: number;
  /** The compiled Vega spec the PNG was drawn from: the page draws it live (tooltips, zoom) over the PNG. */
  spec?: Spec;
}

export interface ReportPage {
  title: string;
  /** Where the run lives (S3 URI or folder), shown so a saved copy says what it describes. */
  runUri: string;
  generatedAt: Date;
  rows: SummaryRow[];
  figures: ReportFigure[];
  /** Why a picture is missing, or which lines were skipped. */
  notes: string[];
}

const STYLE = `
body { font-family: "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; color: #222; margin: 2rem auto; max-width: 960px; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
.meta { color: #666; font-size: 0.9rem; margin-top: 0; }
code { background: #f3f3f3; padding: 0 0.25em; border-radius: 3px; word-break: break-all; }
table { border-collapse: collapse; font-size: 0.95rem; }
th, td { text-align: left; padding: 0.25rem 1.2rem 0.25rem 0; border-bottom: 1px solid #eee; vertical-align: top; }
th { font-weight: normal; color: #555; }
td { font-variant-numeric: tabular-nums; }
tr.alarm td { color: #b00020; font-weight: bold; }
figure { margin: 0; }
.chart { overflow-x: auto; }
.chart:empty { display: none; }
.live .chart + a { display: none; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
ul.notes { color: #555; font-size: 0.9rem; }
`;

export function renderReportHtml(page: ReportPage): string {
  const rows = page.rows
    .map(
      (r) =>
        `<tr${r.alarm ? ' class="alarm"' : ""}><th scope="row">${escapeXml(r.label)}</th><td>${escapeXml(r.value)}</td></tr>`,
    )
    .join("\n");
  const figures = page.figures
    .map((f, i) => {
      const file = escapeXml(f.file);
      const img = `<a href="${file}"><img src="${file}" width="${f.width}" alt="${escapeXml(f.alt)}"></a>`;
      if (!f.spec) return `<h2>${escapeXml(f.heading)}</h2>\n<figure>${img}</figure>`;
      return (
        `<h2>${escapeXml(f.heading)}</h2>\n` +
        `<figure><div class="chart" id="chart-${i}" role="img" aria-label="${escapeXml(f.alt)}"></div>` +
        `${img}</figure>\n` +
        `<script type="application/json" id="spec-${i}">${scriptJson(f.spec)}</script>`
      );
    })
    .join("\n");
  const live = page.figures.some((f) => f.spec)
    ? `<script>${vegaBrowserBuild()}</script>\n<script>${DRAW_CHARTS}</script>`
    : "";
  const notes = page.notes.length
    ? `<h2>Notes</h2>\n<ul class="notes">\n${page.notes.map((n) => `<li>${escapeXml(n)}</li>`).join("\n")}\n</ul>`
    : "";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeXml(page.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeXml(page.title)}</h1>
<p class="meta">run <code>${escapeXml(page.runUri)}</code> · generated ${escapeXml(page.generatedAt.toISOString())}</p>
<h2>Final figures</h2>
<table>
${rows}
</table>
${figures}
${notes}
${live}
</body>
</html>
`;
}

/**
 * Draws every embedded spec in its figure and hides that figure's PNG once the chart is up. Without
 * scripts, or if vega fails, the PNG stays: the page reads the same offline, from a folder or from S3.
 */
const DRAW_CHARTS = `
document.querySelectorAll("script[id^=spec-]").forEach(function (node) {
  var figure = node.previousElementSibling;
  var container = figure && figure.querySelector(".chart");
  if (!container || typeof vega === "undefined") return;
  new vega.View(vega.parse(JSON.parse(node.textContent)), { renderer: "svg", container: container, hover: true })
    .runAsync()
    .then(function () { figure.classList.add("live"); })
    .catch(function (err) { container.textContent = ""; console.error(err); });
});
`;

let vegaSource: string | undefined;

/** vega's browser build (≈ 0.5 MB) from node_modules, inlined so the page needs no network and no file beside it. */
function vegaBrowserBuild(): string {
  if (vegaSource === undefined) {
    vegaSource = readFileSync(vegaBrowserBuildPath(), "utf8");
    // An inline script ends at the first "</script", wherever it stands.
    if (/<\/script/i.test(vegaSource)) throw new Error("vega.min.js contains </script and cannot be inlined");
  }
  return vegaSource;
}

/**
 * Where vega.min.js is: in node_modules (the package exports only its ES module; the browser build sits beside it
 * in build/), or — in the Report Lambda, whose esbuild bundle has no node_modules/vega — copied beside the bundle.
 */
function vegaBrowserBuildPath(): string {
  const besideThisModule = path.join(path.dirname(fileURLToPath(import.meta.url)), "vega.min.js");
  try {
    return path.join(path.dirname(createRequire(import.meta.url).resolve("vega")), "vega.min.js");
  } catch {
    if (existsSync(besideThisModule)) return besideThisModule;
    throw new Error(`vega's browser build is neither in node_modules/vega/build nor at ${besideThisModule}`);
  }
}

/** JSON that is safe inside a <script> element: "<" written as \u003c so no "</script" can close it. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c");
}
