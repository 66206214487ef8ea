// The run lock: which workflow execution or trainer process owns a run, taken and handed over only by put-if-absent.
//
// A lock is a chain of generations, `locks/00000001.json`, `locks/00000002.json`, …; the highest one is
// the lock's state. Every change of hands (take, take over, release) creates the *next* generation with
// `putIfAbsent`, so of two processes that race for the same change exactly one wins — also when both
// decided at once that the holder is stale. Only the holder rewrites its own generation (heartbeats).
import { hostname } from "node:os";
import { z } from "zod";
import { CorruptDataError, IjepaError, describeZodIssues } from "../errors.js";
import { type ObjectStore, getJson } from "../storage/object_store.js";
import { LOCKS_PREFIX, generationOfLockKey, lockKey } from "./run_layout.js";

export const RUN_LOCK_OWNER_KINDS = ["execution", "trainer"] as const;
export type RunLockOwnerKind = (typeof RUN_LOCK_OWNER_KINDS)[number];

/** Default: a holder that has not written a heartbeat for 10 minutes is presumed dead. */
export const DEFAULT_STALE_AFTER_SECONDS = 600;

const isoTime = z.iso.datetime();

/** One generation of the lock, as stored at locks/<8 digits>.json. */
export const runLockSchema = z.strictObject({
  generation: z.number().int().min(1),
  state: z.enum(["held", "released"]),
  /** Who holds (or last held) the run: "execution:<name>", "trainer:<host>:<pid>", … */
  owner: z.string().min(1),
  ownerKind: z.enum(RUN_LOCK_OWNER_KINDS),
  acquiredAt: isoTime,
  heartbeatAt: isoTime,
  staleAfterSeconds: z.number().int().positive(),
  /** Set when this generation took the run from a holder that was stale or no longer running. */
  takenOverFrom: z.string().optional(),
  releasedAt: isoTime.optional(),
});
export type RunLockDocument = z.infer<typeof runLockSchema>;

/** The run is held by someone else who is alive. */
export class RunLockedError extends IjepaError {
  readonly holder: RunLockDocument;
  constructor(runUri: string, holder: RunLockDocument) {
    super(
      `${runUri} is in use by ${holder.owner} (since ${holder.acquiredAt}, last heartbeat ${holder.heartbeatAt})`,
      `wait for it to finish or stop it; a holder silent for ${holder.staleAfterSeconds} s is taken over ` +
        "automatically — or give this job another run id / output folder",
    );
    this.holder = holder;
  }
}

/** The holder found that someone took its run over (it was presumed dead): it must stop writing. */
export class RunLockLostError extends IjepaError {
  constructor(runUri: string, owner: string, newOwner: string) {
    super(
      `${owner} lost the lock on ${runUri} to ${newOwner}`,
      "this process was presumed dead (no heartbeat); stop it — the new holder continues the run",
    );
  }
}

export interface AcquireRunLockOptions {
  owner: string;
  ownerKind: RunLockOwnerKind;
  staleAfterSeconds?: number;
  /** Injected clock (tests). */
  now?: () => Date;
  /**
   * Asked about a holder whose heartbeat is not yet stale: false means it is known to be gone (e.g. its
   * Step Functions execution is no longer RUNNING) and may be taken over at once; true or undefined, not.
   */
  isHolderAlive?: (holder: RunLockDocument) => Promise<boolean | undefined>;
}

/** The newest generation of the run's lock, or undefined when the run was never locked. */
export async function readRunLock(store: ObjectStore): Promise<RunLockDocument | undefined> {
  let newest: string | undefined;
  for await (const info of store.list(LOCKS_PREFIX)) {
    if (generationOfLockKey(info.key) !== undefined) newest = info.key; // list is in key order
  }
  return newest === undefined ? undefined : readGeneration(store, newest);
}

async function readGeneration(store: ObjectStore, key: string): Promise<RunLockDocument> {
  const parsed = runLockSchema.safeParse(await getJson(store, key));
  if (!parsed.success) {
    throw new CorruptDataError(
      store.uriOf(key),
      `not a run lock (${describeZodIssues(parsed.error)})`,
      "if no execution or trainer is using this run, delete the locks/ folder",
    );
  }
  return parsed.data;
}

function isStale(lock: RunLockDocument, now: Date): boolean {
  return now.getTime() - Date.parse(lock.heartbeatAt) > lock.staleAfterSeconds * 1000;
}

/** An owner name for this process: "trainer:<host>:<pid>". */
export function processOwner(kind: RunLockOwnerKind = "trainer"): string {
  return `${kind}:${hostname()}:${process.pid}`;
}

/**
 * Takes the run's lock for `owner`. Succeeds when the run is free, already held by the same owner (a
 * retried step: the heartbeat is refreshed), or held by a holder that is stale or known to be gone
 * (taken over; `takenOverFrom` records it). Otherwise throws RunLockedError naming the holder.
 */
export async function acquireRunLock(store: ObjectStore, options: AcquireRunLockOptions): Promise<RunLock> {
  const now = options.now ?? (() => new Date());
  const staleAfterSeconds = options.staleAfterSeconds ?? DEFAULT_STALE_AFTER_SECONDS;
  // Each lost race means someone else changed hands in between; a few rounds settle any honest contention.
  for (let round = 0; round < 8; round++) {
    const current = await readRunLock(store);
    let takenOverFrom: string | undefined;
    if (current?.state === "held") {
      if (current.owner === options.owner) {
        const lock = new RunLock(store, current, now);
        await lock.heartbeat();
        return lock;
      }
      const gone = isStale(current, now()) || (await options.isHolderAlive?.(current)) === false;
      if (!gone) throw new RunLockedError(store.baseUri, current);
      takenOverFrom = current.owner;
    }
    const at = now().toISOString();
    const doc: RunLockDocument = {
      generation: (current?.generation ?? 0) + 1,
      state: "held",
      owner: options.owner,
      ownerKind: options.ownerKind,
      acquiredAt: at,
      heartbeatAt: at,
      staleAfterSeconds,
      ...(takenOverFrom ? { takenOverFrom } : {}),
    };
    if (await store.putIfAbsent(lockKey(doc.generation), json(doc))) {
      await pruneOldGenerations(store, doc.generation);
      return new RunLock(store, doc, now);
    }
  }
  const holder = await readRunLock(store);
  if (holder) throw new RunLockedError(store.baseUri, holder);
  throw new IjepaError(`could not take the lock on ${store.baseUri}: it kept changing hands`, "try again");
}

/**
 * Releases the lock if `owner` holds it; returns false (and changes nothing) when someone else holds it or
 * it is already free, so a retried release is harmless.
 */
export async function releaseRunLock(store: ObjectStore, owner: string, now: () => Date = () => new Date()) {
  const current = await readRunLock(store);
  if (!current || current.state !== "held" || current.owner !== owner) return false;
  return new RunLock(store, current, now).release();
}

/** A held lock: heartbeat while working, release when done. */
export class RunLock {
  constructor(
    private readonly store: ObjectStore,
    private doc: RunLockDocument,
    private readonly now: () => Date,
  ) {}

  get generation(): number {
    return this.doc.generation;
  }

  get owner(): string {
    return this.doc.owner;
  }

  get document(): RunLockDocument {
    return this.doc;
  }

  /** Proves the holder alive. Throws RunLockLostError when a newer generation exists (it was taken over). */
  async heartbeat(): Promise<void> {
    await this.assertCurrent();
    this.doc = { ...this.doc, heartbeatAt: this.now().toISOString() };
    await this.store.put(lockKey(this.doc.generation), json(this.doc), { contentType: "application/json" });
  }

  /** Hands the run back (the next generation, marked released). False when it had already changed hands. */
  async release(): Promise<boolean> {
    const at = this.now().toISOString();
    const released: RunLockDocument = {
      ...this.doc,
      generation: this.doc.generation + 1,
      state: "released",
      heartbeatAt: at,
      releasedAt: at,
    };
    delete released.takenOverFrom;
    if (await this.store.putIfAbsent(lockKey(released.generation), json(released))) {
      await pruneOldGenerations(this.store, released.generation);
      return true;
    }
    const next = await readGeneration(this.store, lockKey(released.generation));
    // Our own earlier release (a retry) counts as released; anything else means we had lost the lock.
    return next.owner === this.doc.owner && next.state === "released";
  }

  private async assertCurrent(): Promise<void> {
    const next = await this.store.head(lockKey(this.doc.generation + 1));
    if (next) {
      const newer = await readGeneration(this.store, next.key);
      if (!(newer.owner === this.doc.owner && newer.state === "held")) {
        throw new RunLockLostError(this.store.baseUri, this.doc.owner, newer.owner);
      }
    }
  }
}

/** Keeps the newest two generations (the current and the one before, for the record). */
async function pruneOldGenerations(store: ObjectStore, newest: number): Promise<void> {
  const old: string[] = [];
  for await (const info of store.list(LOCKS_PREFIX)) {
    const g = generationOfLockKey(info.key);
    if (g !== undefined && g < newest - 1) old.push(info.key);
  }
  for (const key of old) await store.delete(key);
}

function json(doc: RunLockDocument): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}
