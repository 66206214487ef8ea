// rotateCheckpoints on a real store, as a suite any ObjectStore implementation can be run through.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { CorruptDataError } from "../../trainer/errors.js";
import {
  listCheckpoints,
  loadCheckpoint,
  saveCheckpoint,
  verifyCheckpoint,
} from "../../trainer/checkpoint/checkpoint_store.js";
import { PROBE_HISTORY_KEY, STATE_FILE, checkpointPrefix, probeKey } from "../../trainer/run/run_layout.js";
import { type RotationPolicy, planRotation, rotateCheckpoints } from "../../trainer/checkpoint/rotation.js";
import type { ObjectStore } from "../../trainer/storage/object_store.js";
import { CrashingStore, InjectedCrash, type StoreFactory, keysUnder, sampleCheckpoint } from "./fixtures.js";

/** Saves checkpoints at `steps` (latest.json ends on the last) and writes a probe history line per score. */
async function buildRun(store: ObjectStore, steps: number[], scores: Record<number, number> = {}): Promise<void> {
  for (const step of steps) await saveCheckpoint(store, sampleCheckpoint(step));
  const lines = Object.entries(scores).map(([step, linearTop1]) =>
    JSON.stringify({
      step: Number(step),
      time: "2024-01-01T00:00:00Z",
      dataset: "fashion-mnist",
      linearTop1,
      knnTop1: linearTop1 / 2,
    }),
  );
  if (lines.length > 0) await store.put(PROBE_HISTORY_KEY, lines.join("\n") + "\n");
}

async function stepsOnDisk(store: ObjectStore): Promise<number[]> {
  return (await listCheckpoints(store)).map((c) => c.step);
}

const POLICY: RotationPolicy = { keepLast: 2, keepBest: 1, keepEvery: 40 };

export function describeCheckpointRotation(makeStore: StoreFactory): void {
  describe("rotateCheckpoints", () => {
    it("deletes every object of the checkpoints the policy does not keep, and says why it kept the others", async () => {
      const store = await makeStore();
      await buildRun(store, [10, 20, 30, 40, 50, 60, 70, 80], { 20: 0.61, 30: 0.74, 60: 0.7 });
      const result = await rotateCheckpoints(store, POLICY);
      expect(result.dryRun).toBe(false);
      expect(result.deleted).toEqual([10, 20, 50, 60]);
      expect(result.kept).toEqual([
        { step: 30, reasons: ["best linearTop1 #1 (0.74)"] },
        { step: 40, reasons: ["step is a multiple of 40"] },
        { step: 70, reasons: ["one of the last 2"] },
        { step: 80, reasons: ["latest.json points here", "one of the last 2", "step is a multiple of 40"] },
      ]);
      expect(await stepsOnDisk(store)).toEqual([30, 40, 70, 80]);
      for (const step of result.deleted) expect(await keysUnder(store, checkpointPrefix(step))).toEqual([]);
      expect((await loadCheckpoint(store, "latest")).step).toBe(80);
    });

    it("deletes nothing the second time", async () => {
      const store = await makeStore();
      await buildRun(store, [10, 20, 30, 40, 50], { 20: 0.5 });
      const first = await rotateCheckpoints(store, POLICY);
      expect(first.deleted.length).toBeGreaterThan(0);
      const second = await rotateCheckpoints(store, POLICY);
      expect(second.deleted).toEqual([]);
      expect(second.kept).toEqual(first.kept);
    });

    it("in a dry run reports the same plan and deletes nothing", async () => {
      const store = await makeStore();
      await buildRun(store, [10, 20, 30, 40, 50], { 20: 0.5 });
      const dry = await rotateCheckpoints(store, { ...POLICY, dryRun: true });
      expect(dry.dryRun).toBe(true);
      expect(await stepsOnDisk(store)).toEqual([10, 20, 30, 40, 50]);
      const real = await rotateCheckpoints(store, POLICY);
      expect(real.deleted).toEqual(dry.deleted);
      expect(real.kept).toEqual(dry.kept);
    });

    it("leaves a folder being written alone, and a complete one newer than latest.json", async () => {
      const store = await makeStore();
      await buildRun(store, [10, 20, 30, 40, 50]);
      await store.delete(checkpointPrefix(50) + STATE_FILE); // a save of 50 that has not reached state.json
      await store.publish("checkpoints/latest.json", {
        step: 30,
        epoch: 3,
        prefix: checkpointPrefix(30),
        writtenAt: "x",
      }); // 40 done, not yet published
      const result = await rotateCheckpoints(store, { keepLast: 0, keepBest: 0, keepEvery: 0 });
      expect(result.deleted).toEqual([10, 20]);
      expect(await stepsOnDisk(store)).toEqual([30, 40, 50]);
      expect(await keysUnder(store, checkpointPrefix(50))).toHaveLength(2);
    });

    it("reads scores from probe/<step>.json for steps the history lacks, the history winning where both exist", async () => {
      const store = await makeStore();
      await buildRun(store, [10, 20, 30, 40], { 20: 0.2 });
      // probe/<step>.json holds a ProbeReport: the encoder's scores under `encoder`.
      await store.put(probeKey(10), JSON.stringify({ step: 10, encoder: { linearTop1: 0.9, knnTop1: 0.5 } }));
      await store.put(probeKey(20), JSON.stringify({ step: 20, encoder: { linearTop1: 0.99, knnTop1: 0.5 } })); // history.jsonl says 0.2
      const result = await rotateCheckpoints(store, { keepLast: 1, keepBest: 1, keepEvery: 0 });
      expect(result.kept.map((k) => k.step)).toEqual([10, 40]);
      expect(result.kept[0].reasons).toEqual(["best linearTop1 #1 (0.9)"]);
    });

    it("refuses to rotate when a probe history line cannot be read, naming the file and line", async () => {
      const store = await makeStore();
      await buildRun(store, [10, 20, 30]);
      await store.put(PROBE_HISTORY_KEY, '{"step":10,"linearTop1":0.5}\n{"linearTop1": 0.9\n');
      const err = await rotateCheckpoints(store, { keepLast: 1, keepBest: 1, keepEvery: 0 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CorruptDataError);
      expect((err as CorruptDataError).uri).toBe(store.uriOf(PROBE_HISTORY_KEY));
      expect((err as Error).message).toContain("line 2");
      expect(await stepsOnDisk(store)).toEqual([10, 20, 30]);
    });

    it("after a crash anywhere in a rotation, latest still loads, nothing half-deleted reads as complete, and the next rotation finishes", async () => {
      const steps = [10, 20, 30];
      const policy: RotationPolicy = { keepLast: 1, keepBest: 0, keepEvery: 0 };
      const recorder = new CrashingStore(await makeStore());
      await buildRun(recorder, steps);
      const saveMutations = recorder.mutations.length;
      await rotateCheckpoints(recorder, policy);
      const rotationMutations = recorder.mutations.length - saveMutations;
      expect(rotationMutations).toBe(2 * (3 + 2)); // per folder: marker, state.json, 2 files, marker

      for (let crashAt = 1; crashAt <= rotationMutations; crashAt++) {
        const store = await makeStore();
        await buildRun(store, steps);
        await expect(rotateCheckpoints(new CrashingStore(store, crashAt), policy)).rejects.toBeInstanceOf(
          InjectedCrash,
        );
        expect((await loadCheckpoint(store, "latest")).step).toBe(30);
        for (const c of await listCheckpoints(store)) if (c.complete) await verifyCheckpoint(store, c.step);

        await rotateCheckpoints(store, policy);
        expect(await stepsOnDisk(store), `crash before mutation ${crashAt}`).toEqual([30]);
      }
    });

    it("over random runs, leaves exactly the planned folders, each still verifying, and is idempotent", async () => {
      await fc.assert(
        fc.asyncProperty(
          fc
            .uniqueArray(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 5 })
            .map((s) => s.sort((a, b) => a - b)),
          fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
          fc.array(fc.constantFrom(0.2, 0.5, 0.8), { minLength: 5, maxLength: 5 }),
          fc.record({
            keepLast: fc.integer({ min: 0, max: 3 }),
            keepBest: fc.integer({ min: 0, max: 2 }),
            keepEvery: fc.constantFrom(0, 2, 5),
          }),
          async (steps, incomplete, scoreValues, policy) => {
            const store = await makeStore();
            const scores: Record<number, number> = {};
            steps.forEach((s, i) => {
              scores[s] = scoreValues[i];
            });
            await buildRun(store, steps, scores);
            // Earlier checkpoints may be interrupted saves; the last stays the published one.
            for (const [i, s] of steps.slice(0, -1).entries())
              if (incomplete[i]) await store.delete(checkpointPrefix(s) + STATE_FILE);

            const listing = await listCheckpoints(store);
            const plan = planRotation(
              {
                checkpoints: listing,
                latestStep: steps.at(-1),
                scores: new Map(Object.entries(scores).map(([s, v]) => [Number(s), v])),
              },
              policy,
            );
            const result = await rotateCheckpoints(store, policy);
            expect(result.deleted).toEqual(plan.delete);
            expect(await stepsOnDisk(store)).toEqual(plan.keep);
            expect((await loadCheckpoint(store, "latest")).step).toBe(steps.at(-1));
            for (const c of await listCheckpoints(store)) if (c.complete) await verifyCheckpoint(store, c.step);
            expect((await rotateCheckpoints(store, policy)).deleted).toEqual([]);
          },
        ),
        { numRuns: 8 },
      );
    });
  });
}
