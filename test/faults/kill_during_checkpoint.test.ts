// Fault injection: SIGKILL at random moments of checkpoint writing, local and S3 → latest.json always names a
// complete checkpoint, and no temp file survives the next start.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { LocalObjectStore } from "../../trainer/storage/local_store.js";
import { Rng } from "../../trainer/utils/rng.js";
import { makeTestBucket, s3TestEnv, s3TestServer } from "../support/s3_test_bucket.js";
import { expectLatestComplete, kill, startWriter, tempFilesUnder } from "./fault_helpers.js";

const rng = Rng.fromSeed(2026, "kill-moments");
/** A moment within the next few saves (each takes tens of ms): mid-file, between files, mid-pointer. */
const moment = () => rng.int(0, 250);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("SIGKILL while checkpoints are written", () => {
  it("local: latest.json always names a complete checkpoint; the next start removes every temp file", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ijepa-kill-ckpt-"));
    const store = new LocalObjectStore(dir);
    let last = 0;
    for (let round = 0; round < 6; round++) {
      const child = await startWriter(dir);
      await pause(moment());
      await kill(child);
      const step = await expectLatestComplete(store);
      expect(step).toBeGreaterThanOrEqual(last);
      last = step;
    }
    // The next start (the writer begins as a trainer does) cleans what the killed ones left.
    const child = await startWriter(dir);
    await kill(child);
    await expectLatestComplete(store);
    const left = await tempFilesUnder(dir);
    // Only the last writer's own temps may remain (it was killed too); the next start removes those as well.
    const { removeStaleRunTempFiles } = await import("../../trainer/run/stale_run_temp_files.js");
    await removeStaleRunTempFiles(store);
    expect(await tempFilesUnder(dir)).toEqual([]);
    expect(left.every((f) => f.includes(`.tmp-${child.pid}-`))).toBe(true);
  }, 120_000);

  const { skipReason } = s3TestServer();
  it.skipIf(Boolean(skipReason))(
    `S3 (radosgw): latest.json always names a complete checkpoint${skipReason ? ` — ${skipReason}` : ""}`,
    async () => {
      const bucket = await makeTestBucket("kill-ckpt");
      const uri = `s3://${bucket.bucket}/runs/killed`;
      const store = bucket.store("runs/killed");
      for (let round = 0; round < 4; round++) {
        const child = await startWriter(uri, s3TestEnv(bucket.server));
        await pause(moment());
        await kill(child);
        await expectLatestComplete(store);
      }
    },
    120_000,
  );
});
