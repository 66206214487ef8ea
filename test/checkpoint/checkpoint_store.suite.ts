// The checkpoint save/load/list/verify behaviour, as a suite any ObjectStore implementation can be run through.
import { describe, expect, it } from "vitest";
import { CorruptDataError, NotFoundError } from "../../trainer/errors.js";
import {
  type CheckpointStateDocument,
  DELETING_MARKER_FILE,
  loadCheckpoint,
  listCheckpoints,
  saveCheckpoint,
  verifyCheckpoint,
} from "../../trainer/checkpoint/checkpoint_store.js";
import { sha256Hex } from "../../trainer/utils/sha256.js";
import { LATEST_KEY, type LatestPointer } from "../../trainer/run/run_layout.js";
import { getJson, type ObjectStore } from "../../trainer/storage/object_store.js";
import { CrashingStore, InjectedCrash, type StoreFactory, flipByte, keysUnder, sampleCheckpoint } from "./fixtures.js";

const MODEL_20 = "checkpoints/00000020/model.safetensors";
const OPTIMIZER_20 = "checkpoints/00000020/optimizer.safetensors";
const STATE_20 = "checkpoints/00000020/state.json";

async function caught(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a rejection");
}

/** Mutating calls a full save makes; the crash tests crash before each of them in turn. */
async function countSaveMutations(
  makeStore: StoreFactory,
  prepare: (store: ObjectStore) => Promise<void>,
  step: number,
  seed: number,
): Promise<number> {
  const store = await makeStore();
  await prepare(store);
  const recorder = new CrashingStore(store);
  await saveCheckpoint(recorder, sampleCheckpoint(step, seed));
  return recorder.mutations.length;
}

export function describeCheckpointStore(makeStore: StoreFactory): void {
  describe("saveCheckpoint / loadCheckpoint", () => {
    it("loads back exactly what was saved: tensors in order, state, step, epoch, metadata", async () => {
      const store = await makeStore();
      const saved = sampleCheckpoint(20);
      await saveCheckpoint(store, saved);
      const loaded = await loadCheckpoint(store, "latest");
      expect(loaded.step).toBe(20);
      expect(loaded.epoch).toBe(2);
      expect(loaded.prefix).toBe("checkpoints/00000020/");
      expect(loaded.state).toEqual(saved.state);
      expect(loaded.metadata).toEqual({ framework: "tfjs" });
      expect([...loaded.model.values()]).toEqual(saved.model);
      expect([...loaded.optimizer.values()]).toEqual(saved.optimizer);
    });

    it("writes both safetensors files, then state.json, then publishes latest.json", async () => {
      const store = new CrashingStore(await makeStore());
      await saveCheckpoint(store, sampleCheckpoint(20));
      expect(store.mutations).toEqual([
        `put ${MODEL_20}`,
        `put ${OPTIMIZER_20}`,
        `put ${STATE_20}`,
        `publish ${LATEST_KEY}`,
      ]);
    });

    it("records each file's sha256 and size in state.json, beside formatVersion, step, epoch and the caller's state", async () => {
      const store = await makeStore();
      await saveCheckpoint(store, sampleCheckpoint(20));
      const state = await getJson<CheckpointStateDocument>(store, STATE_20);
      const model = await store.get(MODEL_20);
      const optimizer = await store.get(OPTIMIZER_20);
      expect(state).toMatchObject({
        formatVersion: 1,
        step: 20,
        epoch: 2,
        files: {
          "model.safetensors": { sha256: sha256Hex(model), sizeBytes: model.byteLength },
          "optimizer.safetensors": { sha256: sha256Hex(optimizer), sizeBytes: optimizer.byteLength },
        },
        state: { rng: [20, 2, 3, 4], seed: 20 },
      });
      expect(Date.parse(state.writtenAt)).not.toBeNaN();
    });

    it("publishes latest.json with the step, epoch and a prefix relative to the run", async () => {
      const store = await makeStore();
      const pointer = await saveCheckpoint(store, sampleCheckpoint(20));
      const stored = await getJson<LatestPointer>(store, LATEST_KEY);
      expect(stored).toEqual(pointer);
      expect(stored).toMatchObject({ step: 20, epoch: 2, prefix: "checkpoints/00000020/" });
    });

    it("loads an earlier checkpoint by step after later ones were saved", async () => {
      const store = await makeStore();
      await saveCheckpoint(store, sampleCheckpoint(10));
      await saveCheckpoint(store, sampleCheckpoint(20));
      const loaded = await loadCheckpoint(store, 10);
      expect(loaded.step).toBe(10);
      expect([...loaded.model.values()]).toEqual(sampleCheckpoint(10).model);
      expect((await loadCheckpoint(store, "latest")).step).toBe(20);
    });

    it("says there is no checkpoint yet, naming latest.json, instead of starting from scratch", async () => {
      const store = await makeStore();
      const err = await caught(loadCheckpoint(store, "latest"));
      expect(err).toBeInstanceOf(NotFoundError);
      expect((err as NotFoundError).uri).toBe(store.uriOf(LATEST_KEY));
      expect(err.message).toContain("no checkpoint yet: run without --resume");
    });

    it("names the missing state.json and the steps that do exist when asked for a step that was never saved", async () => {
      const store = await makeStore();
      await saveCheckpoint(store, sampleCheckpoint(10));
      const err = await caught(loadCheckpoint(store, 30));
      expect(err).toBeInstanceOf(NotFoundError);
      expect((err as NotFoundError).uri).toBe(store.uriOf("checkpoints/00000030/state.json"));
      expect(err.message).toContain("complete checkpoints: 10");
    });

    it("rejects a model file whose bytes changed, naming the file, both checksums and both fixes", async () => {
      const store = await makeStore();
      await saveCheckpoint(store, sampleCheckpoint(10));
      await saveCheckpoint(store, sampleCheckpoint(20));
      const expectedSha = sha256Hex(await store.get(MODEL_20));
      await flipByte(store, MODEL_20, 200);
      const actualSha = sha256Hex(await store.get(MODEL_20));
      const err = await caught(loadCheckpoint(store, "latest"));
      expect(err).toBeInstanceOf(CorruptDataError);
      expect((err as CorruptDataError).uri).toBe(store.uriOf(MODEL_20));
      expect(err.message).toContain(`expected sha256 ${expectedSha}`);
      expect(err.message).toContain(`found sha256 ${actualSha}`);
      const hint = (err as CorruptDataError).hint!;
      expect(hint).toContain(store.uriOf("checkpoints/00000020") + "/");
      expect(hint).toContain(store.uriOf(LATEST_KEY));
      expect(hint).toContain("--resume-from <step>");
      expect(hint).toContain("complete checkpoints: 10");
    });

    it("rejects a truncated optimizer file, naming the expected and actual sizes", async () => {
      const store = await makeStore();
      await saveCheckpoint(store, sampleCheckpoint(20));
      const full = await store.get(OPTIMIZER_20);
      await store.put(OPTIMIZER_20, full.subarray(0, full.length - 8));
      const err = await caught(loadCheckpoint(store, 20));
      expect(err).toBeInstanceOf(CorruptDataError);
      expect((err as CorruptDataError).uri).toBe(store.uriOf(OPTIMIZER_20));
      expect(err.message).toContain(`and ${full.length} bytes (from state.json), found sha256`);
      expect(err.message).toContain(`and ${full.length - 8} bytes`);
    });

    it("rejects a checkpoint whose listed file is gone, naming it", async () => {
      const store = await makeStore();
      await saveCheckpoint(store, sampleCheckpoint(20));
      await store.delete(OPTIMIZER_20);
      const err = await caught(loadCheckpoint(store, "latest"));
      expect(err).toBeInstanceOf(NotFoundError);
      expect((err as NotFoundError).uri).toBe(store.uriOf(OPTIMIZER_20));
      expect(err.message).toContain("--resume-from <step>");
    });

    it("rejects a state.json that is not JSON or not a state document", async () => {
      const store = await makeStore();
      await saveCheckpoint(store, sampleCheckpoint(20));
      await store.put(STATE_20, "{ not json");
      const err = await caught(loadCheckpoint(store, "latest"));
      expect(err).toBeInstanceOf(CorruptDataError);
      expect((err as CorruptDataError).uri).toBe(store.uriOf(STATE_20));

      await store.put(STATE_20, JSON.stringify({ formatVersion: 2, step: 20 }));
      const err2 = await caught(loadCheckpoint(store, "latest"));
      expect(err2).toBeInstanceOf(CorruptDataError);
      expect(err2.message).toContain("formatVersion");
    });

    it("rejects a latest.json that is not a pointer", async () => {
      const store = await makeStore();
      await store.put(LATEST_KEY, JSON.stringify({ step: "twenty" }));
      const err = await caught(loadCheckpoint(store, "latest"));
      expect(err).toBeInstanceOf(CorruptDataError);
      expect((err as CorruptDataError).uri).toBe(store.uriOf(LATEST_KEY));

      await store.put(
        LATEST_KEY,
        JSON.stringify({ step: 20, epoch: 2, prefix: "../other-run/checkpoints/00000020/", writtenAt: "x" }),
      );
      const escaping = await caught(loadCheckpoint(store, "latest"));
      expect(escaping).toBeInstanceOf(CorruptDataError);
      expect(escaping.message).toContain("prefix");
    });

    it("keeps latest.json on the previous checkpoint when the process dies anywhere before the publish", async () => {
      const total = await countSaveMutations(
        makeStore,
        async (s) => void (await saveCheckpoint(s, sampleCheckpoint(10))),
        20,
        20,
      );
      for (let crashAt = 1; crashAt <= total; crashAt++) {
        const store = await makeStore();
        await saveCheckpoint(store, sampleCheckpoint(10));
        await expect(saveCheckpoint(new CrashingStore(store, crashAt), sampleCheckpoint(20))).rejects.toBeInstanceOf(
          InjectedCrash,
        );

        const latest = await loadCheckpoint(store, "latest");
        expect(latest.step, `crash before mutation ${crashAt}`).toBe(10);
        const twenty = (await listCheckpoints(store)).find((c) => c.step === 20);
        // Only a crash at the publish itself leaves step 20 complete (just not published yet).
        expect(twenty?.complete ?? false).toBe(crashAt === total);

        // The retried job saves again and succeeds.
        await saveCheckpoint(store, sampleCheckpoint(20));
        expect((await loadCheckpoint(store, "latest")).step).toBe(20);
      }
    });

    it("re-saves a step with identical files by rewriting and republishing, never making it unreadable", async () => {
      const store = await makeStore();
      await saveCheckpoint(store, sampleCheckpoint(20));
      const recorder = new CrashingStore(store);
      await saveCheckpoint(recorder, sampleCheckpoint(20));
      expect(recorder.mutations).toEqual([
        `put ${MODEL_20}`,
        `put ${OPTIMIZER_20}`,
        `put ${STATE_20}`,
        `publish ${LATEST_KEY}`,
      ]);
      expect((await loadCheckpoint(store, "latest")).step).toBe(20);
    });

    it("re-saves a step with different files: the new files load, and a crash part-way never leaves latest.json on a bad checkpoint", async () => {
      const prepare = async (s: ObjectStore): Promise<void> => {
        await saveCheckpoint(s, sampleCheckpoint(10));
        await saveCheckpoint(s, sampleCheckpoint(20, 1));
      };
      const total = await countSaveMutations(makeStore, prepare, 20, 2);
      expect(total).toBeGreaterThan(4);
      for (let crashAt = 1; crashAt <= total + 1; crashAt++) {
        const store = await makeStore();
        await prepare(store);
        const attempt = saveCheckpoint(new CrashingStore(store, crashAt), sampleCheckpoint(20, 2));
        if (crashAt <= total) await expect(attempt).rejects.toBeInstanceOf(InjectedCrash);
        else await attempt;

        const latest = await loadCheckpoint(store, "latest");
        expect([10, 20], `crash before mutation ${crashAt}`).toContain(latest.step);
        if (latest.step === 20) expect(latest.state.seed).toBe(crashAt > total ? 2 : 1);
        for (const c of await listCheckpoints(store)) {
          if (c.complete) await verifyCheckpoint(store, c.step);
        }
      }
      const store = await makeStore();
      await prepare(store);
      await saveCheckpoint(store, sampleCheckpoint(20, 2));
      const loaded = await loadCheckpoint(store, "latest");
      expect(loaded.state.seed).toBe(2);
      expect([...loaded.model.values()]).toEqual(sampleCheckpoint(20, 2).model);
    });

    it("saving a step whose folder a rotation had begun deleting makes it a complete checkpoint again", async () => {
      const store = await makeStore();
      await saveCheckpoint(store, sampleCheckpoint(10));
      await saveCheckpoint(store, sampleCheckpoint(20));
      await store.put(`checkpoints/00000020/${DELETING_MARKER_FILE}`, "{}");
      await store.delete(STATE_20);
      expect((await listCheckpoints(store))[1]).toMatchObject({ step: 20, complete: false, deleting: true });
      await saveCheckpoint(store, sampleCheckpoint(20));
      expect((await listCheckpoints(store))[1]).toMatchObject({ step: 20, complete: true });
      expect(await keysUnder(store, "checkpoints/00000020/")).toEqual([MODEL_20, OPTIMIZER_20, STATE_20]);
    });

    it("stops before publishing when the store reports a size other than what was written", async () => {
      const inner = await makeStore();
      await saveCheckpoint(inner, sampleCheckpoint(10));
      const lying = Object.create(inner) as ObjectStore;
      lying.head = async (key) => {
        const info = await inner.head(key);
        return info && key.endsWith("optimizer.safetensors") ? { ...info, sizeBytes: info.sizeBytes - 1 } : info;
      };
      const err = await caught(saveCheckpoint(lying, sampleCheckpoint(20)));
      expect(err).toBeInstanceOf(CorruptDataError);
      expect((err as CorruptDataError).uri).toBe(inner.uriOf(OPTIMIZER_20));
      expect((await loadCheckpoint(inner, "latest")).step).toBe(10);
      expect(await inner.head(STATE_20)).toBeUndefined();
    });
  });

  describe("listCheckpoints / verifyCheckpoint", () => {
    it("lists checkpoints by step with their state, ignoring latest.json and stray keys", async () => {
      const store = await makeStore();
      for (const step of [30, 10, 20]) await saveCheckpoint(store, sampleCheckpoint(step));
      await store.put("checkpoints/notes.txt", "hello");
      const listed = await listCheckpoints(store);
      expect(listed.map((c) => [c.step, c.prefix, c.complete])).toEqual([
        [10, "checkpoints/00000010/", true],
        [20, "checkpoints/00000020/", true],
        [30, "checkpoints/00000030/", true],
      ]);
      expect(listed[1].state?.state).toEqual({ rng: [20, 2, 3, 4], seed: 20 });
    });

    it("marks a folder without state.json, with a missing file, or with a wrong size as incomplete, saying why", async () => {
      const store = await makeStore();
      for (const step of [10, 20, 30, 40]) await saveCheckpoint(store, sampleCheckpoint(step));
      await store.delete("checkpoints/00000010/state.json");
      await store.delete("checkpoints/00000020/model.safetensors");
      const optimizer = await store.get("checkpoints/00000030/optimizer.safetensors");
      await store.put("checkpoints/00000030/optimizer.safetensors", optimizer.subarray(1));
      await store.put("checkpoints/00000040/state.json", "[]");
      const byStep = new Map((await listCheckpoints(store)).map((c) => [c.step, c]));
      expect(byStep.get(10)).toMatchObject({ complete: false, reason: expect.stringContaining("state.json missing") });
      expect(byStep.get(20)).toMatchObject({ complete: false, reason: "model.safetensors missing" });
      expect(byStep.get(30)).toMatchObject({
        complete: false,
        reason: expect.stringContaining(`optimizer.safetensors is ${optimizer.length - 1} bytes`),
      });
      expect(byStep.get(40)).toMatchObject({
        complete: false,
        reason: expect.stringContaining("not a checkpoint state document"),
      });
    });

    it("finds same-size corruption only when verifying, which hashes every file", async () => {
      const store = await makeStore();
      await saveCheckpoint(store, sampleCheckpoint(20));
      await flipByte(store, MODEL_20, 100);
      expect((await listCheckpoints(store))[0].complete).toBe(true);
      await expect(verifyCheckpoint(store, 20)).rejects.toBeInstanceOf(CorruptDataError);
    });

    it("verifies a good checkpoint and returns its state document", async () => {
      const store = await makeStore();
      await saveCheckpoint(store, sampleCheckpoint(20));
      const document = await verifyCheckpoint(store, 20);
      expect(document.step).toBe(20);
      expect(Object.keys(document.files).sort()).toEqual(["model.safetensors", "optimizer.safetensors"]);
      expect(await keysUnder(store, "checkpoints/00000020/")).toEqual([MODEL_20, OPTIMIZER_20, STATE_20]);
    });
  });
}
