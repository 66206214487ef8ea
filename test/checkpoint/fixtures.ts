// Shared test fixtures for checkpoints: small tensor sets, temp-folder stores, and a store that crashes on its N-th write.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { Readable } from "node:stream";
import type { NamedTensor } from "../../trainer/checkpoint/safetensors.js";
import type { CheckpointToSave } from "../../trainer/checkpoint/checkpoint_store.js";
import { LocalObjectStore } from "../../trainer/storage/local_store.js";
import type { Body, ObjectInfo, ObjectStore, PutOptions } from "../../trainer/storage/object_store.js";

export type StoreFactory = () => Promise<ObjectStore>;

/** Makes LocalObjectStores in fresh temp folders; call cleanup() in afterAll. */
export function localStoreFactory(): { makeStore: StoreFactory; cleanup: () => Promise<void> } {
  const folders: string[] = [];
  return {
    makeStore: async () => {
      const folder = await mkdtemp(path.join(tmpdir(), "ijepa-ckpt-"));
      folders.push(folder);
      return new LocalObjectStore(folder);
    },
    cleanup: async () => {
      await Promise.all(folders.map((f) => rm(f, { recursive: true, force: true })));
    },
  };
}

/** A checkpoint whose tensor values and state depend on `seed`, so two seeds give different files. */
export function sampleCheckpoint(
  step: number,
  seed = step,
  epoch = Math.floor(step / 10),
): CheckpointToSave<{ rng: number[]; seed: number }> {
  const values = (n: number, offset: number): Float32Array =>
    Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + offset + i));
  const model: NamedTensor[] = [
    { name: "encoder.patch_embed.proj.weight", dtype: "F32", shape: [4, 3], data: values(12, 0) },
    { name: "encoder.norm.bias", dtype: "F32", shape: [3], data: values(3, 100) },
  ];
  const optimizer: NamedTensor[] = [
    { name: "adamw.m.encoder.patch_embed.proj.weight", dtype: "F32", shape: [4, 3], data: values(12, 200) },
    { name: "adamw.step", dtype: "I64", shape: [], data: BigInt64Array.of(BigInt(step)) },
  ];
  return { step, epoch, model, optimizer, state: { rng: [seed, 2, 3, 4], seed }, metadata: { framework: "tfjs" } };
}

export class InjectedCrash extends Error {}

/**
 * Passes everything through to `inner`, but throws InjectedCrash instead of performing the
 * `crashAt`-th mutating call (put, putIfAbsent, delete, publish; counting from 1), as if the process
 * died there. `mutations` records what was done, in order.
 */
export class CrashingStore implements ObjectStore {
  readonly mutations: string[] = [];
  private count = 0;

  constructor(
    private readonly inner: ObjectStore,
    private readonly crashAt = Infinity,
  ) {}

  get baseUri(): string {
    return this.inner.baseUri;
  }
  uriOf(key: string): string {
    return this.inner.uriOf(key);
  }
  get(key: string): Promise<Uint8Array> {
    return this.inner.get(key);
  }
  getStream(key: string): Promise<Readable> {
    return this.inner.getStream(key);
  }
  head(key: string): Promise<ObjectInfo | undefined> {
    return this.inner.head(key);
  }
  list(prefix: string): AsyncIterable<ObjectInfo> {
    return this.inner.list(prefix);
  }
  async put(key: string, body: Body, options?: PutOptions): Promise<{ etag: string }> {
    this.mutate(`put ${key}`);
    return this.inner.put(key, body, options);
  }
  async putIfAbsent(key: string, body: Body, options?: PutOptions): Promise<boolean> {
    this.mutate(`putIfAbsent ${key}`);
    return this.inner.putIfAbsent(key, body, options);
  }
  async delete(key: string): Promise<void> {
    this.mutate(`delete ${key}`);
    return this.inner.delete(key);
  }
  async publish(key: string, document: unknown): Promise<void> {
    this.mutate(`publish ${key}`);
    return this.inner.publish(key, document);
  }

  private mutate(what: string): void {
    this.count += 1;
    if (this.count >= this.crashAt) throw new InjectedCrash(`injected crash before: ${what}`);
    this.mutations.push(what);
  }
}

/** Every key under a prefix. */
export async function keysUnder(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of store.list(prefix)) keys.push(info.key);
  return keys;
}

/** Overwrites one byte of an object in place (same size, different content). */
export async function flipByte(store: ObjectStore, key: string, index: number): Promise<void> {
  const bytes = (await store.get(key)).slice();
  bytes[index] ^= 0xff;
  await store.put(key, bytes);
}
