// The workflow's Lambdas as `cdk deploy` uploads them: bundled by esbuild on this machine (no Docker), with what
// each reads from disk beside index.mjs, and a bundle that runs on its own, outside the repository.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildApp } from "../../bin/cdk_app.js";
import { LocalObjectStore } from "../../trainer/storage/local_store.js";
import { writeFakeRun } from "../report/fake_run.js";

describe("the workflow's Lambda bundles", () => {
  const outdir = mkdtempSync(path.join(tmpdir(), "ijepa-bundles-"));
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));
  process.env.CDK_VALIDATION = "false";
  const { app, stack } = buildApp(
    // Asset metadata (the CLI turns it on) says which staged folder is whose bundle.
    {
      trainerImage: "123456789012.dkr.ecr.us-east-1.amazonaws.com/ijepa-trainer:v1",
      "aws:cdk:enable-asset-metadata": true,
    },
    { outdir },
  );
  const template = app.synth().getStackArtifact(stack.artifactId).template as {
    Resources: Record<string, { Type: string; Metadata?: Record<string, string>; Properties: Record<string, unknown> }>;
  };
  /** functions/<folder> → its bundle's folder. */
  const bundles = new Map<string, string>();
  for (const r of Object.values(template.Resources)) {
    const env = (r.Properties.Environment as { Variables?: Record<string, string> } | undefined)?.Variables;
    if (r.Type === "AWS::Lambda::Function" && env?.IJEPA_FUNCTION) {
      bundles.set(env.IJEPA_FUNCTION, path.join(outdir, r.Metadata?.["aws:asset:path"] ?? ""));
    }
  }

  it("bundles every function with esbuild, with the files each needs at run time beside it", () => {
    expect([...bundles.keys()].sort()).toEqual([
      "linear-probe",
      "plan-segment",
      "prepare-run",
      "release-lock",
      "report",
      "rotate-checkpoints",
      "shard-dataset",
    ]);
    for (const [folder, dir] of bundles) expect(existsSync(path.join(dir, "index.mjs")), folder).toBe(true);
    expect(existsSync(path.join(bundles.get("linear-probe")!, "tfjs-backend-wasm-simd.wasm"))).toBe(true);
    expect(existsSync(path.join(bundles.get("prepare-run")!, "configs/fmnist-vit-tiny.yaml"))).toBe(true);
    expect(existsSync(path.join(bundles.get("report")!, "vega.min.js"))).toBe(true);
    for (const folder of ["report", "shard-dataset"]) {
      expect(existsSync(path.join(bundles.get(folder)!, "node_modules/sharp/package.json")), folder).toBe(true);
      expect(existsSync(path.join(bundles.get(folder)!, "node_modules/@img/sharp-linux-x64")), folder).toBe(true);
    }
  });

  it("runs Report's bundle outside the repository: PNGs drawn, vega's browser build inlined into report.html", async () => {
    const lambdaRoot = mkdtempSync(path.join(tmpdir(), "ijepa-task-"));
    cpSync(bundles.get("report")!, lambdaRoot, { recursive: true });
    const run = path.join(lambdaRoot, "runs", "r1");
    await writeFakeRun(new LocalObjectStore(run));
    writeFileSync(
      path.join(lambdaRoot, "invoke.mjs"),
      `const { handler } = await import("./index.mjs");
       console.log(JSON.stringify(await handler({ run: ${JSON.stringify(run)} })));`,
    );
    const r = spawnSync(process.execPath, ["invoke.mjs"], {
      cwd: lambdaRoot,
      encoding: "utf8",
      env: { PATH: process.env.PATH, LAMBDA_TASK_ROOT: lambdaRoot, RUNS_ROOT: path.join(lambdaRoot, "runs") },
    });
    const html = existsSync(path.join(run, "report/report.html"))
      ? readFileSync(path.join(run, "report/report.html"), "utf8")
      : "";
    const png = existsSync(path.join(run, "report/loss.png"));
    rmSync(lambdaRoot, { recursive: true, force: true });
    expect(r.status, r.stderr).toBe(0);
    expect(png).toBe(true);
    expect(html).toMatch(/vega\.View/);
    expect(html.length).toBeGreaterThan(400_000); // the inlined browser build (≈ 0.5 MB)
  });

  it("runs PrepareRun's bundle outside the repository: presets from configs/ beside it, the lock in the run", () => {
    const lambdaRoot = mkdtempSync(path.join(tmpdir(), "ijepa-task-"));
    cpSync(bundles.get("prepare-run")!, lambdaRoot, { recursive: true });
    const runs = path.join(lambdaRoot, "runs");
    writeFileSync(
      path.join(lambdaRoot, "invoke.mjs"),
      `const { handler } = await import("./index.mjs");
       const out = await handler({ input: { config: "smoke", runId: "r1" }, executionName: "e1", executionId: "id" });
       console.log(JSON.stringify(out));`,
    );
    const r = spawnSync(process.execPath, ["invoke.mjs"], {
      cwd: lambdaRoot,
      encoding: "utf8",
      env: { PATH: process.env.PATH, LAMBDA_TASK_ROOT: lambdaRoot, RUNS_ROOT: runs, DATASETS_ROOT: runs },
    });
    rmSync(lambdaRoot, { recursive: true, force: true });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split("\n").pop()!)).toMatchObject({
      run: { runId: "r1", runUri: path.join(runs, "r1"), lockOwner: "execution:e1" },
    });
  });
});
