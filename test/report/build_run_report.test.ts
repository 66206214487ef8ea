import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import sharp from "sharp";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CONFIG_KEY, METRICS_KEY, PROBE_HISTORY_KEY } from "../../trainer/run/run_layout.js";
import { DataError, NotFoundError } from "../../trainer/errors.js";
import { buildRunReport } from "../../trainer/report/build_run_report.js";
import { collapseFigure, lossFigure } from "../../trainer/report/run_charts.js";
import { assembleRunHistory, parseMetricsJsonl } from "../../trainer/report/run_history.js";
import { renderChartSvg } from "../../trainer/report/svg_chart.js";
import { LocalObjectStore } from "../../trainer/storage/local_store.js";
import type { Body, PutOptions } from "../../trainer/storage/object_store.js";
import { fakeMetricsLines, writeFakeRun } from "./fake_run.js";

/** A local store that remembers the order of its writes. */
class RecordingStore extends LocalObjectStore {
  readonly puts: string[] = [];
  override async put(key: string, body: Body, options?: PutOptions): Promise<{ etag: string }> {
    this.puts.push(key);
    return super.put(key, body, options);
  }
}

const text = async (store: LocalObjectStore, key: string): Promise<string> => new TextDecoder().decode(await store.get(key));

describe("buildRunReport", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "report-build-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes four decodable PNGs and then report.html, which shows them and the final figures", async () => {
    const store = new RecordingStore(dir);
    await writeFakeRun(store);
    store.puts.length = 0;
    const report = await buildRunReport(store, { now: new Date("2025-03-02T00:00:00Z") });

    expect(report.files).toEqual(["report/loss.png", "report/schedules.png", "report/collapse.png", "report/probe.png", "report/report.html"]);
    expect(store.puts).toEqual(report.files); // html last: never a page whose pictures are missing
    for (const key of report.files.slice(0, 4)) {
      const meta = await sharp(await store.get(key)).metadata();
      expect(meta.format, key).toBe("png");
      expect(meta.width, key).toBe(1800); // 900 CSS pixels at pixel ratio 2
      expect(meta.height, key).toBeGreaterThan(600);
    }
    const html = await text(store, "report/report.html");
    for (const png of ["loss.png", "schedules.png", "collapse.png", "probe.png"]) expect(html).toContain(`<img src="${png}"`);
    expect(html).not.toMatch(/src="(\/|https?:|file:)/);
    expect(html).toContain("<th scope=\"row\">resumes</th><td>1 (from step 1200)</td>");
    expect(html).toMatch(/<th scope="row">linear probe top-1, step 2000<\/th><td>\d+(\.\d)?%/);
    expect(html).toContain("generated 2025-03-02T00:00:00.000Z");
    expect(report.notes).toEqual([]);
  });

  it("refuses an empty metrics file with a message naming it", async () => {
    const store = new LocalObjectStore(dir);
    await store.put(METRICS_KEY, "");
    const err = await buildRunReport(store).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).message).toContain(store.uriOf(METRICS_KEY));
    expect((err as DataError).message).toContain("no step record");
    expect((err as DataError).hint).toMatch(/log/);
    expect(await store.head("report/report.html")).toBeUndefined();
  });

  it("names a missing metrics.jsonl", async () => {
    const store = new LocalObjectStore(dir);
    await expect(buildRunReport(store)).rejects.toBeInstanceOf(NotFoundError);
  });

  it("leaves out the probe and collapse charts until there is something to show, and says why", async () => {
    const store = new LocalObjectStore(dir);
    await store.put(METRICS_KEY, fakeMetricsLines({ totalSteps: 300, epochs: 1, resume: null }).slice(0, 20).join("\n"));
    const report = await buildRunReport(store, { pixelRatio: 1 });
    expect(report.files).toEqual(["report/loss.png", "report/schedules.png", "report/report.html"]);
    expect(report.notes.join("\n")).toContain("no epoch has finished");
    expect(report.notes.join("\n")).toContain(store.uriOf(PROBE_HISTORY_KEY));
    expect(report.notes.join("\n")).toContain("config.yaml is missing");
    const html = await text(store, "report/report.html");
    expect(html).not.toContain("probe.png");
    expect(html).toContain("no epoch has finished");
  });

  it("flags collapse: threshold from config.yaml, warned epochs marked, the table row in red", async () => {
    const store = new LocalObjectStore(dir);
    await writeFakeRun(store, { collapseFromEpoch: 3, collapseStdThreshold: 0.05, probeSteps: [] });
    const report = await buildRunReport(store, { pixelRatio: 1 });
    expect(report.files).toContain("report/collapse.png");
    const html = await text(store, "report/report.html");
    expect(html).toContain('<tr class="alarm"><th scope="row">collapse warnings</th><td>epoch 3, 4</td></tr>');
    expect(html).toMatch(/<tr class="alarm"><th scope="row">target feature std, epoch 4<\/th><td>0\.02 \(threshold 0\.05\)/);
  });
  it("uses the config schema's default threshold when config.yaml does not set one", async () => {
    const store = new LocalObjectStore(dir);
    await writeFakeRun(store, { probeSteps: [] });
    await store.put(CONFIG_KEY, "logging:\n  log_every: 10\n");
    const report = await buildRunReport(store, { pixelRatio: 1 });
    expect(report.notes.join("\n")).not.toContain("threshold");
    expect(await text(store, "report/report.html")).toContain("(threshold 0.01)");
  });
});

describe("run charts", () => {
  const history = () => {
    const parsed = parseMetricsJsonl(fakeMetricsLines().join("\n"));
    return assembleRunHistory(parsed.records, []);
  };

  it("plots each step once on the loss chart of a resumed run, and marks the resume", () => {
    const figure = lossFigure(history());
    const raw = figure.panels[0].series.find((s) => s.name === "loss per step")!;
    const steps = raw.points.map(([s]) => s);
    expect(new Set(steps).size).toBe(steps.length);
    expect(figure.panels[0].referenceLines).toContainEqual(expect.objectContaining({ axis: "x", value: 1200, label: "resumed here" }));
    const svg = renderChartSvg(figure);
    for (const name of ["loss per step", "loss (EMA)", "epoch mean", "resumed here"]) expect(svg).toContain(`data-label="${name}"`);
  });

  it("draws each epoch mean as a flat segment over that epoch's steps", () => {
    const segments = lossFigure(history())
      .panels[0].series.find((s) => s.name === "epoch mean")!
      .points.filter(([, y]) => Number.isFinite(y));
    expect(segments.slice(0, 4).map(([x]) => x)).toEqual([0, 400, 400, 800]);
    expect(segments[0][1]).toBe(segments[1][1]);
  });

  it("switches the loss axis to log scale when the loss spans more than a decade", () => {
    const lines = Array.from({ length: 100 }, (_, i) =>
      JSON.stringify({ type: "step", time: "", step: i * 10, epoch: 0, loss: 3 * Math.exp(-i / 15), lr: 0, wd: 0, momentum: 1, imgPerSec: 1, msPerStep: 1, contextPatches: 1, targetPatches: 1 }),
    );
    const parsed = parseMetricsJsonl(lines.join("\n"));
    const steep = assembleRunHistory(parsed.records, []);
    expect(lossFigure(steep).panels[0].yScale).toBe("log");
    expect(lossFigure(history()).panels[0].yScale).toBe("linear");
    expect(lossFigure(steep, "linear").panels[0].yScale).toBe("linear");
  });

  it("draws the collapse threshold as a horizontal line at its value", () => {
    const figure = collapseFigure(history(), 0.05);
    expect(figure.panels[0].referenceLines).toEqual([expect.objectContaining({ axis: "y", value: 0.05 })]);
    expect(renderChartSvg(figure)).toContain('data-label="collapse threshold (0.05)"');
  });
});
