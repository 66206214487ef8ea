// ijepa train owns its run: a lock while training, no overwriting others' files or later history, no stale temps.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync, existsSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/backend.js";
import { loadConfigFile } from "../../trainer/config/load_config.js";
import type { TrainConfig } from "../../trainer/config/schema.js";
import { RunLockLostError, RunLockedError, acquireRunLock, readRunLock } from "../../trainer/run/run_lock.js";
import { takeTrainingLock } from "../../trainer/train/training_lock.js";
import { LocalObjectStore } from "../../trainer/storage/local_store.js";
import { WouldOverwriteError } from "../../trainer/train/run_history_guard.js";
import { type TrainOptions, train } from "../../trainer/train/train_loop.js";
import { snapshotFiles } from "../support/file_snapshot.js";
import { squaresSource } from "../support/squares_source.js";

let smoke: TrainConfig;
beforeAll(async () => {
  await initBackend("wasm");
  smoke = await loadConfigFile(path.resolve(__dirname, "../../configs/smoke.yaml"));
});

const tempRun = () => mkdtempSync(path.join(tmpdir(), "ijepa-guard-"));
/** 64 images, batch 16: 4 steps per epoch; a checkpoint every 2 steps. */
function quick(out: string, extra: Partial<TrainOptions> = {}): TrainOptions {
  const config = structuredClone(smoke);
  config.logging.checkpoint_every = 2;
  config.logging.collapse_sample = 16;
  return {
    config,
    configName: "smoke",
    out,
    source: squaresSource(64),
    replicas: 1,
    log: () => {},
    ...extra,
  };
}
const deadPid = () => spawnSync(process.execPath, ["-e", ""]).pid;

describe("the run lock while training", () => {
  it("refuses a run another live owner holds, and writes nothing", async () => {
    const out = tempRun();
    await acquireRunLock(new LocalObjectStore(out), { owner: "execution:other", ownerKind: "execution" });
    const before = await snapshotFiles(out);
    const err = await train(quick(out, { maxSteps: 2 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunLockedError);
    expect((err as Error).message).toMatch(/in use by execution:other/);
    expect(await snapshotFiles(out)).toEqual(before);
  });

  it("lets exactly one of two trainers started at once into the same run proceed", async () => {
    const out = tempRun();
    const results = await Promise.allSettled([
      train(quick(out, { maxSteps: 2, lockOwner: `trainer:${hostname()}:${process.pid}-a` })),
      train(quick(out, { maxSteps: 2, lockOwner: `trainer:${hostname()}:${process.pid}-b` })),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const refused = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(RunLockedError);
  });

  it("takes over the lock of a trainer of this machine whose process is gone, and releases it when done", async () => {
    const out = tempRun();
    await acquireRunLock(new LocalObjectStore(out), {
      owner: `trainer:${hostname()}:${deadPid()}`,
      ownerKind: "trainer",
    });
    await train(quick(out, { maxSteps: 2 }));
    const lock = await readRunLock(new LocalObjectStore(out));
    expect(lock).toMatchObject({ state: "released", owner: `trainer:${hostname()}:${process.pid}` });
  });

  it("works under an execution's lock named by IJEPA_RUN_LOCK_OWNER, and leaves it held for it", async () => {
    const out = tempRun();
    await acquireRunLock(new LocalObjectStore(out), { owner: "execution:run-42", ownerKind: "execution" });
    process.env.IJEPA_RUN_LOCK_OWNER = "execution:run-42";
    try {
      expect((await train(quick(out, { maxSteps: 2 }))).step).toBe(2);
    } finally {
      delete process.env.IJEPA_RUN_LOCK_OWNER;
    }
    expect(await readRunLock(new LocalObjectStore(out))).toMatchObject({ state: "held", owner: "execution:run-42" });
  });

  it("refuses to lock again a run that its execution has already released (started late, after a timeout)", async () => {
    const out = tempRun();
    const store = new LocalObjectStore(out);
    const held = await acquireRunLock(store, { owner: "execution:run-43", ownerKind: "execution" });
    await held.release();
    process.env.IJEPA_RUN_LOCK_OWNER = "execution:run-43";
    try {
      const err = await train(quick(out, { maxSteps: 2 })).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/is not held by execution:run-43 \(released by execution:run-43\)/);
    } finally {
      delete process.env.IJEPA_RUN_LOCK_OWNER;
    }
    expect(await readRunLock(store)).toMatchObject({ state: "released", owner: "execution:run-43" });
  });
});

describe("a trainer whose run was taken over", () => {
  it("stops before its next publish and leaves the new holder's lock alone", async () => {
    const store = new LocalObjectStore(tempRun());
    const lock = await takeTrainingLock(store, { owner: "trainer:elsewhere:1" });
    await lock.check();
    await acquireRunLock(store, { owner: "execution:next", ownerKind: "execution", isHolderAlive: async () => false });
    await expect(lock.check()).rejects.toThrow(RunLockLostError);
    await lock.end();
    expect(await readRunLock(store)).toMatchObject({ owner: "execution:next", state: "held" });
  });
});

describe("what a new run or a resume may overwrite", () => {
  it("refuses --out in a folder with the user's config.yaml (kept byte-identical); --force takes it", async () => {
    const out = tempRun();
    writeFileSync(path.join(out, "config.yaml"), "my: own settings\n");
    writeFileSync(path.join(out, "notes.txt"), "mine\n");
    const before = await snapshotFiles(out);
    const err = await train(quick(out, { maxSteps: 2 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WouldOverwriteError);
    expect((err as Error).message).toMatch(/is not a run but holds config\.yaml.*--force/s);
    expect(await snapshotFiles(out)).toEqual(before);
    expect((await train(quick(out, { maxSteps: 2, force: true }))).step).toBe(2);
  });

  it("refuses --resume-from an earlier step when later checkpoints exist, keeping them; --force rewrites", async () => {
    const out = tempRun();
    await train(quick(out, { maxSteps: 4 }));
    const before = await snapshotFiles(out);
    const err = await train(quick(out, { resumeFrom: 2, maxSteps: 4 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WouldOverwriteError);
    expect((err as Error).message).toMatch(
      /--resume-from 2 .* latest checkpoint is step 4, would rewrite its history: checkpoint\(s\) 4 /,
    );
    expect(await snapshotFiles(out)).toEqual(before);
    const lines: string[] = [];
    expect((await train(quick(out, { resumeFrom: 2, maxSteps: 4, force: true, log: (l) => lines.push(l) }))).step).toBe(
      4,
    );
    expect(lines.some((l) => /--force: resuming from step 2 replaces checkpoint\(s\) 4/.test(l))).toBe(true);
  });
});

describe("temp files a killed writer left", () => {
  it("are removed on the next start; a live writer's temp and a user's look-alike are kept", async () => {
    const out = tempRun();
    await train(quick(out, { maxSteps: 2 }));
    const folder = path.join(out, "checkpoints", "00000002");
    const stale = [`.model.safetensors.tmp-${deadPid()}-0123456789ab`, `.state.json.tmp-${deadPid()}-ba9876543210`];
    for (const name of stale) writeFileSync(path.join(folder, name), "half a file");
    writeFileSync(path.join(out, `.metrics.jsonl.tmp-${deadPid()}-aaaaaaaaaaaa`), "torn");
    const live = `.model.safetensors.tmp-${process.pid}-cccccccccccc`;
    writeFileSync(path.join(folder, live), "being written");
    mkdirSync(path.join(out, "report"), { recursive: true });
    writeFileSync(path.join(out, "report", "photo.tmp-1.jpg"), "user file");
    await train(quick(out, { resume: true, maxSteps: 4 }));
    expect(readdirSync(folder).filter((n) => n.includes(".tmp-"))).toEqual([live]);
    expect(readdirSync(out).filter((n) => n.includes(".tmp-"))).toEqual([]);
    expect(existsSync(path.join(out, "report", "photo.tmp-1.jpg"))).toBe(true);
  });
});
