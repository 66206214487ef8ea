import vm from "node:vm";
import { describe, expect, it } from "vitest";
import { type ReportFigure, renderReportHtml } from "../../trainer/report/report_html.js";

const page = (figures: ReportFigure[]) =>
  renderReportHtml({ title: "t", runUri: "/runs/x", generatedAt: new Date(0), rows: [], figures, notes: [] });

/** The smallest DOM the page's drawing script touches: spec scripts, their figures, each figure's chart div. */
function fakeDocument(html: string) {
  const specs = [...html.matchAll(/<script type="application\/json" id="(spec-\d+)">(.*?)<\/script>/gs)];
  const figures = specs.map(([, id, text]) => {
    const classes = new Set<string>();
    const container = { id: `chart-${id.slice(5)}`, textContent: "placeholder" };
    const figure = {
      classList: { add: (c: string) => classes.add(c) },
      querySelector: (sel: string) => (sel === ".chart" ? container : null),
      classes,
      container,
    };
    return { node: { textContent: text, previousElementSibling: figure }, figure };
  });
  return { document: { querySelectorAll: () => figures.map((f) => f.node) }, figures };
}

function drawingScript(html: string): string {
  const scripts = [...html.matchAll(/<script>(.*?)<\/script>/gs)].map((m) => m[1]);
  return scripts.find((s) => s.includes("new vega.View"))!;
}

describe("renderReportHtml", () => {
  const spec = {
    $schema: "https://vega.github.io/schema/vega/v6.json",
    marks: [],
    description: "</script><b>not markup</b>",
  };
  const figures: ReportFigure[] = [
    { file: "loss.png", heading: "Loss", alt: "loss", width: 900, spec: spec as never },
    { file: "masks.png", heading: "Masks", alt: "masks", width: 900 },
  ];

  it("keeps a spec's text inside its script element, whatever the spec says", () => {
    const html = page(figures);
    const [match] = [...html.matchAll(/<script type="application\/json" id="spec-0">(.*?)<\/script>/gs)];
    expect(JSON.parse(match[1])).toEqual(spec);
    expect(html).not.toContain("<b>not markup</b>");
    expect(html).toContain('<img src="masks.png"'); // a figure without a spec is just its PNG
    expect(html.match(/<script type="application\/json"/g)).toHaveLength(1);
  });

  it("draws each spec in its figure and then hides that figure's PNG", async () => {
    const html = page(figures);
    const { document, figures: dom } = fakeDocument(html);
    const views: { spec: unknown; container: unknown }[] = [];
    const vega = {
      parse: (s: unknown) => ({ parsed: s }),
      View: class {
        constructor(runtime: { parsed: unknown }, options: { container: unknown; renderer: string }) {
          views.push({ spec: runtime.parsed, container: options.container });
          expect(options.renderer).toBe("svg");
        }
        runAsync() {
          return Promise.resolve(this);
        }
      },
    };
    vm.runInNewContext(drawingScript(html), { document, vega, JSON, console });
    await new Promise((r) => setTimeout(r, 0));
    expect(views).toEqual([{ spec, container: dom[0].figure.container }]);
    expect([...dom[0].figure.classes]).toEqual(["live"]);
  });

  it("leaves the PNG in place when vega fails or is missing", async () => {
    const html = page(figures);
    const failing = fakeDocument(html);
    const vega = {
      parse: () => ({}),
      View: class {
        runAsync() {
          return Promise.reject(new Error("no"));
        }
      },
    };
    vm.runInNewContext(drawingScript(html), { document: failing.document, vega, JSON, console: { error: () => {} } });
    await new Promise((r) => setTimeout(r, 0));
    expect(failing.figures[0].figure.classes.size).toBe(0);
    expect(failing.figures[0].figure.container.textContent).toBe("");
    const missing = fakeDocument(html);
    vm.runInNewContext(drawingScript(html), { document: missing.document, JSON });
    expect(missing.figures[0].figure.classes.size).toBe(0);
  });

  it("carries no vega at all when no figure has a spec", () => {
    const html = page([figures[1]]);
    expect(html).not.toContain("<script");
  });
});
