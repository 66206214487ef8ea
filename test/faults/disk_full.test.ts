// Fault injection: the disk fills up during training (an injected ENOSPC in the store) → nothing half-published,
// a clear error, and --resume works once space returns.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/backend.js";
import { listCheckpoints } from "../../trainer/checkpoint/checkpoint_store.js";
import { loadConfigFile } from "../../trainer/config/load_config.js";
import type { TrainConfig } from "../../trainer/config/schema.js";
import { LocalObjectStore } from "../../trainer/storage/local_store.js";
import type { Body, ObjectStore, PutOptions } from "../../trainer/storage/object_store.js";
import { bodyToBytes } from "../../trainer/storage/object_store.js";
import { explainError } from "../../trainer/system_errors.js";
import { type TrainOptions, train } from "../../trainer/train/train_loop.js";
import { squaresSource } from "../support/squares_source.js";
import { expectLatestComplete, tempFilesUnder } from "./fault_helpers.js";

/** A local store whose disk holds `free` more bytes: a put that does not fit fails with ENOSPC, as write(2) would. */
class FullDiskStore extends LocalObjectStore {
  constructor(
    folder: string,
    public free: number,
  ) {
    super(folder);
  }
  override async put(key: string, body: Body, options?: PutOptions): Promise<{ etag: string }> {
    const bytes = await bodyToBytes(body);
    if (bytes.byteLength > this.free) {
      throw Object.assign(new Error(`ENOSPC: no space left on device, write '${this.uriOf(key)}'`), {
        code: "ENOSPC",
        syscall: "write",
        path: this.uriOf(key),
      });
    }
    this.free -= bytes.byteLength;
    return super.put(key, bytes, options);
  }
}

let smoke: TrainConfig;
beforeAll(async () => {
  await initBackend("wasm");
  smoke = await loadConfigFile(path.resolve(__dirname, "../../configs/smoke.yaml"));
});

function options(store: ObjectStore, extra: Partial<TrainOptions> = {}): TrainOptions {
  const config = structuredClone(smoke);
  config.logging.checkpoint_every = 2;
  config.logging.collapse_sample = 16;
  config.optimization.epochs = 2; // 4 steps per epoch
  return {
    config,
    configName: "smoke",
    out: store.baseUri,
    store,
    source: squaresSource(64),
    replicas: 1,
    log: () => {},
    ...extra,
  };
}

describe("disk full while training", () => {
  it.each([
    ["mid-checkpoint", 0.5],
    ["in the second checkpoint after the resume", 1.5],
  ])(
    "%s: publishes nothing half-written, says so clearly, and resumes once space returns",
    async (_when, fraction) => {
      const dir = mkdtempSync(path.join(tmpdir(), "ijepa-enospc-"));
      // Measure a checkpoint's size, then let the disk fill at `fraction` of one more checkpoint after step 2.
      const probeDir = mkdtempSync(path.join(tmpdir(), "ijepa-enospc-size-"));
      await train(options(new LocalObjectStore(probeDir), { maxSteps: 2 }));
      const used = (await listCheckpoints(new LocalObjectStore(probeDir)))[0].state!.files;
      const checkpointBytes = Object.values(used).reduce((n, f) => n + f.sizeBytes, 0);

      const store = new FullDiskStore(dir, Number.POSITIVE_INFINITY);
      await train(options(store, { maxSteps: 2 }));
      store.free = Math.floor(checkpointBytes * fraction);
      const err = await train(options(store, { resume: true, maxSteps: 6 })).catch((e: unknown) => e);
      expect((err as NodeJS.ErrnoException).code).toBe("ENOSPC");
      expect(explainError(err).message).toMatch(
        /^no space left on the device while writing .*\n {2}fix: .*run the same command again once there is room/,
      );
      // Nothing half-written is published: latest.json names a complete checkpoint, and so does every state.json.
      const latest = await expectLatestComplete(store);
      expect(latest).toBeGreaterThanOrEqual(2);
      for (const c of await listCheckpoints(store))
        if (c.state) expect(c.complete, `${c.step}: ${c.reason}`).toBe(true);
      expect(await tempFilesUnder(dir)).toEqual([]);
      // Space returns: the same command resumes and finishes.
      store.free = Number.POSITIVE_INFINITY;
      expect((await train(options(store, { resume: true, maxSteps: 6 }))).step).toBe(6);
      expect(await expectLatestComplete(store)).toBe(6);
    },
    120_000,
  );
});
