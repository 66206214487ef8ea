// ijepa pull and export write only into what they own: another run or a user's README.md is refused unless --force.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/backend.js";
import { WouldOverwriteError } from "../../trainer/errors.js";
import { exportEncoder } from "../../trainer/export/export_encoder.js";
import { pullRun } from "../../trainer/export/pull_run.js";
import { snapshotFiles } from "../support/file_snapshot.js";
import { trainSmokeRun } from "./smoke_run.js";
import { tempDir } from "../support/temp_dir.js";

let run: string;
let otherRun: string;
beforeAll(async () => {
  await initBackend("wasm");
  run = tempDir("guard-run");
  await trainSmokeRun(run, { steps: 2 });
  otherRun = tempDir("guard-other");
  await trainSmokeRun(otherRun, { steps: 1 });
});

describe("ijepa pull --to", () => {
  it("refuses a folder holding another run, its metrics.jsonl byte-identical; --force pulls anyway", async () => {
    const before = await snapshotFiles(otherRun);
    const err = await pullRun({ run, which: "latest", to: otherRun }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WouldOverwriteError);
    expect((err as Error).message).toMatch(
      /already holds another run: .*pulling .* there would overwrite them.*--force/s,
    );
    expect(await snapshotFiles(otherRun)).toEqual(before);
    await pullRun({ run, which: "latest", to: otherRun, force: true });
    expect(readFileSync(path.join(otherRun, "metrics.jsonl"))).toEqual(readFileSync(path.join(run, "metrics.jsonl")));
  });

  it("refuses a folder of a user's files, and pulls the same run into its own earlier copy again", async () => {
    const mine = tempDir("guard-mine");
    writeFileSync(path.join(mine, "metrics.jsonl"), "my own log\n");
    await expect(pullRun({ run, which: 1, to: mine })).rejects.toThrow(/already holds files: metrics\.jsonl/);
    expect(readFileSync(path.join(mine, "metrics.jsonl"), "utf8")).toBe("my own log\n");
    const copy = tempDir("guard-copy");
    await pullRun({ run, which: 1, to: copy });
    await expect(pullRun({ run, which: 2, to: copy })).resolves.toMatchObject({ step: 2 });
    await expect(pullRun({ run: otherRun, which: 1, to: copy })).rejects.toThrow(/already holds a pull of another run/);
  });
});

describe("ijepa export --to", () => {
  it("refuses a folder with a user's README.md (kept byte-identical), exports with --force", async () => {
    const to = tempDir("guard-export");
    writeFileSync(path.join(to, "README.md"), "# my project\n");
    mkdirSync(path.join(to, "src"));
    writeFileSync(path.join(to, "src", "main.py"), "print(1)\n");
    const before = await snapshotFiles(to);
    const err = await exportEncoder({ checkpoint: run, format: "safetensors", to }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WouldOverwriteError);
    expect((err as Error).message).toMatch(/holds README\.md, not written by an ijepa safetensors export/);
    expect(await snapshotFiles(to)).toEqual(before);
    await exportEncoder({ checkpoint: run, format: "safetensors", to, force: true });
    expect(readFileSync(path.join(to, "README.md"), "utf8")).not.toBe("# my project\n");
    expect(readFileSync(path.join(to, "src", "main.py"), "utf8")).toBe("print(1)\n");
  });

  it("replaces its own earlier export of the same format without --force, but not a user's config.json", async () => {
    const to = tempDir("guard-reexport");
    await exportEncoder({ checkpoint: run, format: "safetensors", to });
    await expect(exportEncoder({ checkpoint: run, format: "safetensors", to })).resolves.toMatchObject({
      format: "safetensors",
    });
    const hf = tempDir("guard-hf");
    writeFileSync(path.join(hf, "config.json"), '{"model_type": "vit"}\n');
    await expect(exportEncoder({ checkpoint: run, format: "safetensors", to: hf })).rejects.toThrow(
      /holds config\.json/,
    );
  });
});
