// The run report page: one self-contained HTML file (inline CSS, no scripts) showing the PNGs beside it and a table of final figures.
import type { SummaryRow } from "./run_summary.js";
import { escapeXml } from "./svg_chart.js";

export interface ReportFigure {
  /** File name relative to the HTML file, e.g. "loss.png". */
  file: string;
  heading: string;
  /** What the picture shows, for readers who cannot see it. */
  alt: string;
  /** Display width in CSS pixels (the PNG may have more pixels, for sharp high-density screens). */
  width: number;
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
img { max-width: 100%; height: auto; border: 1px solid #eee; }
ul.notes { color: #555; font-size: 0.9rem; }
`;

export function renderReportHtml(page: ReportPage): string {
  const rows = page.rows
    .map((r) => `<tr${r.alarm ? ' class="alarm"' : ""}><th scope="row">${escapeXml(r.label)}</th><td>${escapeXml(r.value)}</td></tr>`)
    .join("\n");
  const figures = page.figures
    .map(
      (f) =>
        `<h2>${escapeXml(f.heading)}</h2>\n<figure><a href="${escapeXml(f.file)}"><img src="${escapeXml(f.file)}" width="${f.width}" alt="${escapeXml(f.alt)}"></a></figure>`,
    )
    .join("\n");
  const notes = page.notes.length ? `<h2>Notes</h2>\n<ul class="notes">\n${page.notes.map((n) => `<li>${escapeXml(n)}</li>`).join("\n")}\n</ul>` : "";
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
</body>
</html>
`;
}
