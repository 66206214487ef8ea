// The run lock while `ijepa train` works: taken before anything is written, heartbeated, released at the end.
import { hostname } from "node:os";
import { IjepaError } from "../errors.js";
import {
  DEFAULT_STALE_AFTER_SECONDS,
  type RunLock,
  type RunLockDocument,
  type RunLockOwnerKind,
  RunLockLostError,
  acquireRunLock,
  processOwner,
  readRunLock,
} from "../run/run_lock.js";
import type { ObjectStore } from "../storage/object_store.js";

/** A workflow execution starting the trainer names itself here ("execution:<name>"): it then works under that lock. */
export const RUN_LOCK_OWNER_ENV = "IJEPA_RUN_LOCK_OWNER";

export interface TrainingLockOptions {
  /** Who to act as; default: $IJEPA_RUN_LOCK_OWNER, else "trainer:<host>:<pid>". */
  owner?: string;
  /** Seconds without a heartbeat after which others may take the run over (default 600). */
  staleAfterSeconds?: number;
  env?: NodeJS.ProcessEnv;
}

/** The held lock and how to end it: `check()` before each publish, `end()` when training stops. */
export interface TrainingLock {
  readonly owner: string;
  /** Proves us alive and still the holder; throws RunLockLostError once someone took the run over. */
  check(): Promise<void>;
  /** Stops the heartbeat; releases the lock if this process took it (an execution's lock is left to the execution). */
  end(): Promise<void>;
}

/**
 * Takes the run's lock for this trainer, or throws RunLockedError naming the live holder. The same
 * owner (a retried job, or the execution named by IJEPA_RUN_LOCK_OWNER) already holds it; a trainer of
 * this host whose process is gone is taken over at once, any other holder once its heartbeat is stale.
 */
export async function takeTrainingLock(store: ObjectStore, options: TrainingLockOptions = {}): Promise<TrainingLock> {
  const env = options.env ?? process.env;
  const fromEnv = env[RUN_LOCK_OWNER_ENV]?.trim();
  const owner = options.owner ?? (fromEnv || processOwner("trainer"));
  const ownerKind: RunLockOwnerKind = owner.startsWith("execution:") ? "execution" : "trainer";
  if (!/^(execution|trainer):\S+$/.test(owner)) {
    throw new IjepaError(
      `${RUN_LOCK_OWNER_ENV}=${JSON.stringify(owner)} is not a lock owner`,
      'use "execution:<name>" or "trainer:<host>:<pid>"',
    );
  }
  const staleAfterSeconds = options.staleAfterSeconds ?? DEFAULT_STALE_AFTER_SECONDS;
  const tookIt = options.owner !== undefined || !fromEnv;
  if (!tookIt) {
    // Working under an execution's lock means joining it, never taking it: once the execution has released the
    // run (it timed out, failed or was stopped while this trainer started), the trainer must not lock it again.
    const current = await readRunLock(store);
    if (current?.state !== "held" || current.owner !== owner) {
      throw new IjepaError(
        `${store.baseUri} is not held by ${owner} (${current ? `${current.state} by ${current.owner}` : "never locked"})`,
        "this trainer was started for an execution that no longer owns the run; start a new execution",
      );
    }
  }
  const lock = await acquireRunLock(store, { owner, ownerKind, staleAfterSeconds, isHolderAlive: localProcessAlive });
  let lost: unknown;
  // Four heartbeats per stale period: a slow step or a slow store never makes a live trainer look dead.
  const timer = setInterval(
    () => {
      lock.heartbeat().catch((err: unknown) => {
        // Someone took the run over: stop at the next checkpoint. A store hiccup is retried by the next beat.
        if (err instanceof RunLockLostError) lost ??= err;
      });
    },
    (staleAfterSeconds * 1000) / 4,
  );
  timer.unref();
  return {
    owner,
    async check() {
      if (lost) throw lost;
      await lock.heartbeat();
    },
    async end() {
      clearInterval(timer);
      if (tookIt && !lost) await releaseQuietly(lock);
    },
  };
}

async function releaseQuietly(lock: RunLock): Promise<void> {
  // A release that fails (store gone) leaves a lock that goes stale and is taken over: not worth hiding the outcome.
  await lock.release().catch(() => undefined);
}

/** A trainer on this host whose process no longer exists is gone; other holders are not ours to judge. */
async function localProcessAlive(holder: RunLockDocument): Promise<boolean | undefined> {
  const m = /^trainer:(.+):(\d+)$/.exec(holder.owner);
  if (!m || m[1] !== hostname()) return undefined;
  const pid = Number(m[2]);
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH" ? false : true;
  }
}
