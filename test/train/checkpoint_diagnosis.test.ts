// A broken checkpoint or dataset is named for what it is: state.json by its schema, NaN weights, pixels with std 0.
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/backend.js";
import { CorruptDataError, DataError } from "../../trainer/errors.js";
import { exportEncoder } from "../../trainer/export/export_encoder.js";
import { train } from "../../trainer/train/train_loop.js";
import { trainSmokeRun } from "../export/smoke_run.js";
import { tempDir } from "../support/temp_dir.js";
import { snapshotFiles } from "../support/file_snapshot.js";
import { squaresSource } from "../support/squares_source.js";
import { editState, poisonWeights } from "../support/tamper_checkpoint.js";

beforeAll(() => initBackend("wasm"));

const resume = (out: string) =>
  train({ out, resume: true, maxSteps: 3, source: squaresSource(), replicas: 1, log: () => {} });

async function runOf(steps = 1): Promise<string> {
  const out = tempDir("diag");
  await trainSmokeRun(out, { steps });
  return out;
}

describe("resuming from a damaged state.json", () => {
  it.each([
    ["a missing section", (d: any) => delete d.state.normalization, /state: normalization: /],
    ["a zero batch size", (d: any) => (d.state.config.data.batch_size = 0), /data\.batch_size/],
    ["optimization.lr: null", (d: any) => (d.state.config.optimization.lr = null), /optimization\.lr/],
    ["a step that is not its own", (d: any) => (d.state.step = 7), /state\.step is 7/],
  ])("names state.json and the field for %s, and changes nothing", async (_what, edit, field) => {
    const out = await runOf();
    editState(out, 1, edit);
    const before = await snapshotFiles(out);
    const err = await resume(out).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptDataError);
    expect((err as Error).message).toMatch(/checkpoints\/00000001\/state\.json/);
    expect((err as Error).message).toMatch(field);
    expect((err as Error).message).toMatch(/--resume-from/);
    expect(await snapshotFiles(out)).toEqual(before);
  });
});

describe("NaN weights and constant data", () => {
  it("says the checkpoint's weights hold NaN instead of 'loss became NaN at step 0'", async () => {
    const out = await runOf();
    const tensor = poisonWeights(out, 1, /^encoder\.blocks\.0\.attn\.qkv\.weight$/);
    const err = await resume(out).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptDataError);
    expect((err as Error).message).toContain(`tensor ${tensor} holds 1 NaN/Inf value(s)`);
    expect((err as Error).message).not.toMatch(/loss became/);
  });

  it("refuses to export a checkpoint whose target encoder holds NaN, writing nothing", async () => {
    const out = await runOf();
    poisonWeights(out, 1, /^target_encoder\.patch_embed\.proj\.weight$/);
    const to = tempDir("diag-export");
    const err = await exportEncoder({ checkpoint: out, format: "safetensors", to }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptDataError);
    expect((err as Error).message).toMatch(/patch_embed\.proj\.weight holds 1 NaN\/Inf/);
    expect(readdirSync(to)).toEqual([]);
  });

  it("says the data's pixels are all equal (std 0) before any step", async () => {
    const out = tempDir("diag-std0");
    const err = await train({
      config: undefined,
      out,
      source: squaresSource(64, 0),
      replicas: 1,
      log: () => {},
    }).catch((e: unknown) => e);
    // No config at all is the first complaint; with one, the data's std is.
    expect((err as Error).message).toMatch(/no config given/);
    const { loadConfigFile } = await import("../../trainer/config/load_config.js");
    const config = await loadConfigFile(path.resolve(__dirname, "../../configs/smoke.yaml"));
    const err2 = await train({
      config,
      out,
      source: squaresSource(64, 0),
      replicas: 1,
      log: () => {},
    }).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(DataError);
    expect((err2 as Error).message).toMatch(
      /memory:\/\/squares: channel 0 of the training images has std 0 .*all equal/,
    );
    expect(existsSync(path.join(out, "checkpoints"))).toBe(false);
  });
});
