import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import vm from "node:vm";
import sharp from "sharp";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CONFIG_KEY, METRICS_KEY, PROBE_HISTORY_KEY } from "../../trainer/run/run_layout.js";
import { DataError, NotFoundError } from "../../trainer/errors.js";
import { buildRunReport } from "../../trainer/report/build_run_report.js";
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

const text = async (store: LocalObjectStore, key: string): Promise<string> =>
  new TextDecoder().decode(await store.get(key));

/** The compiled specs report.html carries, in page order. */
const embeddedSpecs = (html: string) =>
  [...html.matchAll(/<script type="application\/json" id="spec-\d+">(.*?)<\/script>/gs)].map((m) => JSON.parse(m[1]));

describe("buildRunReport", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "report-build-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes five decodable PNGs and then report.html, which shows them and the final figures", async () => {
    const store = new RecordingStore(dir);
    await writeFakeRun(store);
    store.puts.length = 0;
    const report = await buildRunReport(store, { now: new Date("2025-03-02T00:00:00Z") });

    expect(report.files).toEqual([
      "report/loss.png",
      "report/schedules.png",
      "report/collapse.png",
      "report/probe.png",
      "report/embedding.png",
      "report/report.html",
    ]);
    expect(store.puts).toEqual(report.files); // html last: never a page whose pictures are missing
    for (const key of report.files.slice(0, 5)) {
      const meta = await sharp(await store.get(key)).metadata();
      expect(meta.format, key).toBe("png");
      expect(meta.width, key).toBe(1800); // 900 CSS pixels at pixel ratio 2
      expect(meta.height, key).toBeGreaterThan(600);
    }
    const html = await text(store, "report/report.html");
    for (const png of ["loss.png", "schedules.png", "collapse.png", "probe.png", "embedding.png"]) {
      expect(html).toContain(`<img src="${png}"`);
    }
    expect(html).not.toMatch(/src="(\/|https?:|file:)/);
    expect(html).not.toMatch(/<script[^>]* src=/); // vega is inlined: the page works offline and from S3 alike
    expect(html).toContain('<th scope="row">resumes</th><td>1 (from step 1200)</td>');
    expect(html).toMatch(/<th scope="row">linear probe top-1, step 2000<\/th><td>\d+(\.\d)?%/);
    expect(html).toContain("generated 2025-03-02T00:00:00.000Z");
    expect(report.notes).toEqual([]);
  });

  it("embeds each chart's compiled Vega spec, with its data, and vega itself to draw them live", async () => {
    const store = new LocalObjectStore(dir);
    await writeFakeRun(store);
    await buildRunReport(store, { pixelRatio: 1 });
    const html = await text(store, "report/report.html");
    const specs = embeddedSpecs(html);
    expect(specs).toHaveLength(5);
    // Vega, not Vega-Lite: the page needs no compiler.
    for (const spec of specs) expect(spec.$schema).toMatch(/vega\/v\d/);
    const probe = JSON.stringify(specs[3]);
    for (const name of ["linear probe", "kNN", "raw pixels, linear", "random init, kNN", "top-1 accuracy"]) {
      expect(probe).toContain(name);
    }
    expect(JSON.stringify(specs[0])).toContain('"series":"resumed here","step":1200');
    // The browser build of vega, inlined, and the script that draws each spec over its PNG.
    expect(html).toMatch(/<script>!function\(t,e\)\{.*vega/s);
    expect(html).toContain("new vega.View(vega.parse(");
    expect(html.length).toBeGreaterThan(400_000);
  });

  it("carries a vega build that draws every embedded spec by itself, with nothing else loaded", async () => {
    const store = new LocalObjectStore(dir);
    await writeFakeRun(store);
    await buildRunReport(store, { pixelRatio: 1 });
    const html = await text(store, "report/report.html");
    const [vegaBuild] = [...html.matchAll(/<script>(.*?)<\/script>/gs)].map((m) => m[1]);
    // A bare context: no require, no DOM, no network, as in a browser tab opened from a folder.
    const page = vm.createContext({ setTimeout, clearTimeout }) as { vega?: typeof import("vega") };
    vm.runInContext(vegaBuild, page);
    expect(page.vega?.version).toMatch(/^6\./);
    const specs = embeddedSpecs(html);
    for (const spec of specs) {
      const view = new page.vega!.View(page.vega!.parse(spec), { renderer: "none" });
      expect(await view.toSVG()).toContain("<svg");
    }
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
    await store.put(
      METRICS_KEY,
      fakeMetricsLines({ totalSteps: 300, epochs: 1, resume: null }).slice(0, 20).join("\n"),
    );
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
    expect(html).toMatch(
      /<tr class="alarm"><th scope="row">target feature std, epoch 4<\/th><td>0\.02 \(threshold 0\.05\)/,
    );
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
