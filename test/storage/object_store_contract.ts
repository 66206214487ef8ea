// The behaviour every ObjectStore must have, as one suite that each implementation's test file runs against itself.
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NotFoundError } from "../../trainer/errors.js";
import { type ObjectStore, bodyToBytes, getJson } from "../../trainer/storage/object_store.js";

export interface ContractStores {
  /** An empty store. */
  store: ObjectStore;
  /**
   * A second store whose base is the first one's base with "-2" appended (".../run" and ".../run-2"),
   * to prove listings stop at the base's boundary.
   */
  sibling: ObjectStore;
  cleanup?: () => Promise<void>;
}

const MIB = 1024 * 1024;

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A stream of `total` pseudo-random bytes in uneven chunks, plus their hash. */
function randomStream(total: number): { stream: Readable; sha: string } {
  const bytes = randomBytes(total);
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < total; i++) {
    const size = Math.min(total - at, 65_536 + ((i * 7919) % 100_000));
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return { stream: Readable.from(chunks), sha: sha256(bytes) };
}

async function collect(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of store.list(prefix)) keys.push(info.key);
  return keys;
}

export function objectStoreContract(name: string, open: () => Promise<ContractStores>): void {
  describe(`${name} (ObjectStore contract)`, () => {
    let stores: ContractStores;
    let store: ObjectStore;
    beforeAll(async () => {
      stores = await open();
      store = stores.store;
    });
    afterAll(async () => {
      await stores?.cleanup?.();
    });

    it("returns the exact bytes, string and stream that were put", async () => {
      const bytes = randomBytes(4096);
      await store.put("roundtrip/bytes.bin", bytes);
      expect(Buffer.from(await store.get("roundtrip/bytes.bin")).equals(bytes)).toBe(true);

      const text = "ünïcödé ✓ I-JEPA\n";
      await store.put("roundtrip/text.txt", text, { contentType: "text/plain" });
      expect(new TextDecoder().decode(await store.get("roundtrip/text.txt"))).toBe(text);

      const { stream, sha } = randomStream(300_000);
      await store.put("roundtrip/stream.bin", stream);
      expect(sha256(await store.get("roundtrip/stream.bin"))).toBe(sha);
      expect(sha256(await bodyToBytes(await store.getStream("roundtrip/stream.bin")))).toBe(sha);
    });

    it("round-trips a stream larger than 10 MiB (multipart on S3)", async () => {
      const total = 10 * MIB + 12_345;
      const { stream, sha } = randomStream(total);
      const { etag } = await store.put("big/shard.bin", stream);
      const info = await store.head("big/shard.bin");
      expect(info?.sizeBytes).toBe(total);
      expect(info?.etag).toBe(etag);
      expect(sha256(await bodyToBytes(await store.getStream("big/shard.bin")))).toBe(sha);
      expect(sha256(await store.get("big/shard.bin"))).toBe(sha);
    });

    it("describes an object with head, and says undefined for a missing one", async () => {
      const before = Date.now();
      const { etag } = await store.put("head/a.json", '{"a":1}');
      const info = await store.head("head/a.json");
      expect(info).toMatchObject({ key: "head/a.json", sizeBytes: 7, etag });
      expect(info!.lastModified.getTime()).toBeGreaterThan(before - 60_000);
      const { etag: rewritten } = await store.put("head/a.json", '{"a":2}');
      expect(rewritten).not.toBe(etag);
      expect(await store.head("head/missing.json")).toBeUndefined();
      expect(await store.head("head")).toBeUndefined(); // a "folder" is not an object
    });

    it("lists every key under a prefix in key order, across many pages", async () => {
      const keys = Array.from({ length: 7 }, (_, i) => `pages/item-${String(6 - i).padStart(2, "0")}.txt`);
      await Promise.all(keys.map((k) => store.put(k, k)));
      const listed: string[] = [];
      for await (const info of store.list("pages/")) {
        listed.push(info.key);
        expect(info.sizeBytes).toBe(info.key.length);
      }
      expect(listed).toEqual([...keys].sort());
    });

    it("lists only keys that start with the prefix, relative to the store's base", async () => {
      await Promise.all(
        ["filter/a/1", "filter/a/2", "filter/ab/1", "filter/b/1", "filter/a.txt"].map((k) => store.put(k, "x")),
      );
      await stores.sibling.put("filter/a/outside", "not mine");
      expect(await collect(store, "filter/a/")).toEqual(["filter/a/1", "filter/a/2"]);
      expect(await collect(store, "filter/a")).toEqual(["filter/a.txt", "filter/a/1", "filter/a/2", "filter/ab/1"]);
      expect(await collect(store, "filter/c")).toEqual([]);
      const everything = await collect(store, "");
      expect(everything).toContain("filter/b/1");
      expect(everything.every((k) => !k.includes("outside"))).toBe(true);
    });

    it("deletes idempotently: a missing object is not an error", async () => {
      await store.put("del/x.txt", "x");
      await store.delete("del/x.txt");
      await store.delete("del/x.txt");
      await store.delete("del/never-existed.txt");
      expect(await store.head("del/x.txt")).toBeUndefined();
      await expect(store.get("del/x.txt")).rejects.toBeInstanceOf(NotFoundError);
    });

    it("names the full URI in the NotFoundError for a missing key", async () => {
      const uri = store.uriOf("missing/thing.bin");
      const fromGet = await store.get("missing/thing.bin").catch((e: unknown) => e);
      expect(fromGet).toBeInstanceOf(NotFoundError);
      expect((fromGet as NotFoundError).uri).toBe(uri);
      expect((fromGet as Error).message).toContain(uri);
      const fromStream = await store.getStream("missing/thing.bin").catch((e: unknown) => e);
      expect(fromStream).toBeInstanceOf(NotFoundError);
      expect((fromStream as NotFoundError).uri).toBe(uri);
    });

    it("rejects keys that escape the base or have empty segments", async () => {
      for (const bad of ["../x", "/abs", "a//b", "a/./b", ""]) {
        await expect(store.put(bad, "x")).rejects.toThrow(/invalid object key/);
      }
    });

    it("putIfAbsent creates once and never replaces", async () => {
      expect(await store.putIfAbsent("once/lock.json", "first")).toBe(true);
      expect(await store.putIfAbsent("once/lock.json", "second")).toBe(false);
      expect(new TextDecoder().decode(await store.get("once/lock.json"))).toBe("first");
    });

    it("lets exactly one of 10 concurrent putIfAbsent callers win, and keeps the winner's content", async () => {
      for (let round = 0; round < 3; round++) {
        const key = `race/lock-${round}.json`;
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            store.putIfAbsent(key, JSON.stringify({ owner: i })).then((won) => ({ i, won })),
          ),
        );
        const winners = results.filter((r) => r.won);
        expect(winners).toHaveLength(1);
        expect(await getJson(store, key)).toEqual({ owner: winners[0].i });
      }
    });

    it("publish never shows a reader a partial document while a writer republishes", async () => {
      const key = "pointer/latest.json";
      const documentFor = (version: number) => {
        const items = Array.from({ length: 4000 }, (_, i) => (i * 31 + version) % 997);
        return { version, items, sum: items.reduce((a, b) => a + b, 0) };
      };
      await store.publish(key, documentFor(0));
      let writing = true;
      const writer = (async () => {
        for (let version = 1; version <= 25; version++) await store.publish(key, documentFor(version));
        writing = false;
      })();
      const seen = new Set<number>();
      const readers = Array.from({ length: 3 }, async () => {
        while (writing) {
          const doc = await getJson<ReturnType<typeof documentFor>>(store, key);
          expect(doc.items).toHaveLength(4000);
          expect(doc.items.reduce((a, b) => a + b, 0)).toBe(doc.sum);
          seen.add(doc.version);
        }
      });
      await Promise.all([writer, ...readers]);
      expect((await getJson<{ version: number }>(store, key)).version).toBe(25);
      expect(seen.size).toBeGreaterThan(1);
    });
  });
}
