import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { buildRunReport } from "../../trainer/report/build_run_report.js";
import { classNameOf, embeddingChart } from "../../trainer/report/embedding_chart.js";
import { probeEmbeddingKey } from "../../trainer/run/run_layout.js";
import { LocalObjectStore } from "../../trainer/storage/local_store.js";
import { axisTitles, rowsOf } from "./chart_spec_support.js";
import { FASHION_MNIST_CLASSES, fakeEmbedding, writeFakeRun } from "./fake_run.js";

describe("embeddingChart", () => {
  it("puts the random-init encoder's cloud beside the pretrained one, every point once, named by class", () => {
    const doc = fakeEmbedding(2000, 500);
    const spec = embeddingChart(doc) as { hconcat: { title: { text: string } }[] };
    expect(spec.hconcat.map((p) => p.title.text)).toEqual(["random init (step 0)", "pretrained (step 2000)"]);
    const rows = rowsOf(spec);
    expect(rows).toHaveLength(1000);
    expect(new Set(rows.map((r) => r.row.class))).toEqual(new Set(FASHION_MNIST_CLASSES));
    const first = rows[500].row; // the pretrained panel's first point
    expect(first).toEqual({ x: doc.trained.x[0], y: doc.trained.y[0], class: "T-shirt/top" });
    expect(axisTitles(spec)).toEqual({
      x: ["PC 1 (8.0 % of variance)", "PC 1 (31 % of variance)"],
      y: ["PC 2 (5.0 % of variance)", "PC 2 (18 % of variance)"],
    });
    // One colour per class, in label order, shared by both panels.
    expect(JSON.stringify(spec)).toContain(JSON.stringify(FASHION_MNIST_CLASSES));
  });

  it("shows the pretrained cloud alone without a random-init baseline, and numbers unnamed classes", () => {
    const { randomInit: _, classNames: __, ...doc } = fakeEmbedding(40, 100);
    const spec = embeddingChart(doc) as { hconcat: unknown[] };
    expect(spec.hconcat).toHaveLength(1);
    expect(rowsOf(spec)[3].row.class).toBe("class 3");
    expect(classNameOf(-1)).toBe("unlabelled");
  });
});

describe("the report's embedding picture", () => {
  it("is left out, with a note naming the file, for a probe that wrote none", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "report-embedding-"));
    try {
      const store = new LocalObjectStore(dir);
      await writeFakeRun(store, { embedding: false });
      const report = await buildRunReport(store, { pixelRatio: 1 });
      expect(report.files).not.toContain("report/embedding.png");
      expect(report.notes).toEqual([expect.stringContaining(store.uriOf(probeEmbeddingKey(2000)))]);
      await store.put(probeEmbeddingKey(2000), JSON.stringify({ ...fakeEmbedding(2000, 10), trained: { count: 3 } }));
      const again = await buildRunReport(store, { pixelRatio: 1 });
      expect(again.notes).toEqual([expect.stringMatching(/embedding\.json does not validate/)]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
