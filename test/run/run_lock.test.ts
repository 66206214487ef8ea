// The run lock: one holder at a time, idempotent for the same owner, safe takeover of a stale or gone holder.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { lockKey } from "../../trainer/run/run_layout.js";
import {
  RunLockLostError,
  RunLockedError,
  acquireRunLock,
  readRunLock,
  releaseRunLock,
} from "../../trainer/run/run_lock.js";
import { LocalObjectStore } from "../../trainer/storage/local_store.js";

let dir: string;
let store: LocalObjectStore;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "run-lock-"));
  store = new LocalObjectStore(dir);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const clock = (start: string) => {
  let t = Date.parse(start);
  const now = () => new Date(t);
  return {
    now,
    advance: (seconds: number) => {
      t += seconds * 1000;
    },
  };
};

describe("run lock", () => {
  it("gives a free run to the first owner and refuses a second while the first is alive", async () => {
    const lock = await acquireRunLock(store, { owner: "execution:a", ownerKind: "execution" });
    expect(lock.generation).toBe(1);
    const refused = acquireRunLock(store, { owner: "execution:b", ownerKind: "execution" });
    await expect(refused).rejects.toThrow(RunLockedError);
    await expect(refused).rejects.toThrow(/in use by execution:a/);
  });

  it("lets exactly one of many concurrent owners win", async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => acquireRunLock(store, { owner: `trainer:h:${i}`, ownerKind: "trainer" })),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(RunLockedError);
  });

  it("is idempotent for the same owner (a retried step keeps the lock and refreshes the heartbeat)", async () => {
    const c = clock("2026-01-01T00:00:00Z");
    await acquireRunLock(store, { owner: "execution:a", ownerKind: "execution", now: c.now });
    c.advance(30);
    const again = await acquireRunLock(store, { owner: "execution:a", ownerKind: "execution", now: c.now });
    expect(again.generation).toBe(1);
    expect((await readRunLock(store))?.heartbeatAt).toBe("2026-01-01T00:00:30.000Z");
  });

  it("takes over a holder whose heartbeat is stale, and the old holder learns it lost the lock", async () => {
    const c = clock("2026-01-01T00:00:00Z");
    const old = await acquireRunLock(store, {
      owner: "trainer:h:1",
      ownerKind: "trainer",
      staleAfterSeconds: 60,
      now: c.now,
    });
    c.advance(61);
    const fresh = await acquireRunLock(store, { owner: "trainer:h:2", ownerKind: "trainer", now: c.now });
    expect(fresh.generation).toBe(2);
    expect(fresh.document.takenOverFrom).toBe("trainer:h:1");
    await expect(old.heartbeat()).rejects.toThrow(RunLockLostError);
    expect(await old.release()).toBe(false);
    expect((await readRunLock(store))?.owner).toBe("trainer:h:2");
  });

  it("takes over a live-looking holder at once when it is known to be gone", async () => {
    await acquireRunLock(store, { owner: "execution:a", ownerKind: "execution" });
    const taken = await acquireRunLock(store, {
      owner: "execution:b",
      ownerKind: "execution",
      isHolderAlive: async (holder) => holder.owner !== "execution:a",
    });
    expect(taken.document.takenOverFrom).toBe("execution:a");
  });

  it("releases by writing the next generation; a repeated release changes nothing", async () => {
    const lock = await acquireRunLock(store, { owner: "execution:a", ownerKind: "execution" });
    expect(await lock.release()).toBe(true);
    expect(await lock.release()).toBe(true);
    expect(await releaseRunLock(store, "execution:a")).toBe(false);
    const state = await readRunLock(store);
    expect(state).toMatchObject({ generation: 2, state: "released", owner: "execution:a" });
    const next = await acquireRunLock(store, { owner: "execution:b", ownerKind: "execution" });
    expect(next.generation).toBe(3);
    expect(next.document.takenOverFrom).toBeUndefined();
  });

  it("never releases someone else's lock", async () => {
    await acquireRunLock(store, { owner: "execution:a", ownerKind: "execution" });
    expect(await releaseRunLock(store, "execution:b")).toBe(false);
    expect((await readRunLock(store))?.state).toBe("held");
  });

  it("keeps only the newest two generations", async () => {
    for (const owner of ["a", "b", "c"]) {
      const lock = await acquireRunLock(store, { owner, ownerKind: "trainer" });
      await lock.release();
    }
    const keys: string[] = [];
    for await (const info of store.list("locks/")) keys.push(info.key);
    expect(keys).toEqual([lockKey(5), lockKey(6)]);
  });

  it("names the file and the fix when a generation is not a lock", async () => {
    await store.put(lockKey(1), JSON.stringify({ owner: 3 }));
    await expect(readRunLock(store)).rejects.toThrow(/locks\/00000001\.json.*not a run lock/s);
  });
});
