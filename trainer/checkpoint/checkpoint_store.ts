// Saving, loading, listing and verifying checkpoints in a run's store: safetensors files, their checksums in state.json, then latest.json.
import { z } from "zod";
import { sha256Hex } from "../utils/sha256.js";
import { CorruptDataError, DataError, NotFoundError, describeZodIssues } from "../errors.js";
import { type ObjectInfo, type ObjectStore, getJson } from "../storage/object_store.js";
import {
  CHECKPOINTS_PREFIX,
  DELETING_MARKER_FILE,
  LATEST_KEY,
  MODEL_FILE,
  OPTIMIZER_FILE,
  STATE_FILE,
  checkpointPrefix,
  stepOfCheckpointKey,
} from "../run/run_layout.js";
import {
  CHECKPOINT_FORMAT_VERSION,
  type CheckpointFileInfo,
  type CheckpointStateDocument,
  checkpointStateDocumentSchema,
} from "../run/checkpoint_state.js";
import { type LatestPointer, latestPointerSchema } from "../run/latest_pointer.js";
import { type NamedTensor, decodeSafetensors, encodeSafetensors } from "./safetensors.js";

// The documents' schemas are the run contract's; re-exported for the callers that know them from here.
export {
  CHECKPOINT_FORMAT_VERSION,
  type CheckpointFileInfo,
  type CheckpointStateDocument,
} from "../run/checkpoint_state.js";

export { DELETING_MARKER_FILE } from "../run/run_layout.js";

export interface CheckpointToSave<S extends object = Record<string, unknown>> {
  step: number;
  epoch: number;
  model: readonly NamedTensor[];
  optimizer: readonly NamedTensor[];
  /** Everything else needed to resume (schedules, RNG states, data position), as plain JSON. */
  state: S;
  /** Stored as `__metadata__` in both safetensors files. */
  metadata?: Record<string, string>;
}

export interface LoadedCheckpoint<S = Record<string, unknown>> {
  step: number;
  epoch: number;
  writtenAt: string;
  /** Folder of the checkpoint, relative to the run ("checkpoints/00000120/"). */
  prefix: string;
  state: S;
  model: Map<string, NamedTensor>;
  optimizer: Map<string, NamedTensor>;
  /** `__metadata__` of model.safetensors. */
  metadata: Record<string, string>;
}

export interface CheckpointListing {
  step: number;
  prefix: string;
  /** state.json parses, lists its files, and each listed file exists with the listed size (sizes only: no hashing). */
  complete: boolean;
  /** Why it is not complete. */
  reason?: string;
  /** A rotation began deleting this checkpoint and stopped part-way. */
  deleting?: boolean;
  state?: CheckpointStateDocument;
}

/**
 * Writes checkpoints/<step>/{model,optimizer}.safetensors, checks their sizes in the store, writes
 * state.json (with their checksums) last, and only then publishes latest.json. A crash before the
 * publish leaves latest.json where it was. Saving a step again (a retried job) is safe: if the new
 * files differ from the ones there, the folder is first made incomplete (and latest.json moved off it
 * to the newest earlier complete checkpoint), so no reader ever sees a state.json that disagrees with
 * the files beside it. Returns the pointer it published.
 */
export async function saveCheckpoint<S extends object>(
  store: ObjectStore,
  checkpoint: CheckpointToSave<S>,
): Promise<LatestPointer> {
  const { step, epoch } = checkpoint;
  const prefix = checkpointPrefix(step);
  if (!Number.isInteger(epoch) || epoch < 0)
    throw new DataError(
      `checkpoint ${step}: epoch ${epoch} is not a non-negative integer`,
      "pass the epoch the step belongs to",
    );
  if (typeof checkpoint.state !== "object" || checkpoint.state === null || Array.isArray(checkpoint.state)) {
    throw new DataError(`checkpoint ${step}: state must be a JSON object`, "wrap the values in an object");
  }

  const contents = new Map<string, Uint8Array>([
    [MODEL_FILE, encodeSafetensors(checkpoint.model, checkpoint.metadata)],
    [OPTIMIZER_FILE, encodeSafetensors(checkpoint.optimizer, checkpoint.metadata)],
  ]);
  const files: Record<string, CheckpointFileInfo> = {};
  for (const [name, bytes] of contents) files[name] = { sha256: sha256Hex(bytes), sizeBytes: bytes.byteLength };

  await makeFolderSafeToRewrite(store, step, files);
  for (const [name, bytes] of contents)
    await store.put(prefix + name, bytes, { contentType: "application/octet-stream" });
  for (const [name, bytes] of contents) await expectStoredSize(store, prefix + name, bytes.byteLength);

  const document: CheckpointStateDocument<S> = {
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    step,
    epoch,
    writtenAt: new Date().toISOString(),
    files,
    state: checkpoint.state,
  };
  const stateBytes = new TextEncoder().encode(JSON.stringify(document, null, 2) + "\n");
  await store.put(prefix + STATE_FILE, stateBytes, { contentType: "application/json" });
  await expectStoredSize(store, prefix + STATE_FILE, stateBytes.byteLength);

  const pointer: LatestPointer = { step, epoch, prefix, writtenAt: document.writtenAt };
  await store.publish(LATEST_KEY, pointer);
  return pointer;
}

/**
 * Loads the checkpoint latest.json points to, or the one at `which` step, verifying every file's
 * size and SHA-256 against state.json. Never falls back to anything: a missing pointer is a
 * NotFoundError ("no checkpoint yet"), a bad file a CorruptDataError naming it and the fix.
 */
export async function loadCheckpoint<S = Record<string, unknown>>(
  store: ObjectStore,
  which: "latest" | number,
): Promise<LoadedCheckpoint<S>> {
  let prefix: string;
  let step: number;
  if (which === "latest") {
    const pointer = await readLatestPointer(store);
    if (pointer === undefined) {
      throw new NotFoundError(
        store.uriOf(LATEST_KEY),
        "no checkpoint yet: run without --resume (or pick a step with --resume-from <step>)",
      );
    }
    ({ prefix, step } = pointer);
  } else {
    prefix = checkpointPrefix(which);
    step = which;
  }
  const document = await readStateDocument(store, prefix, step);
  const bytes = new Map<string, Uint8Array>();
  for (const [name, expected] of Object.entries(document.files))
    bytes.set(name, await readVerifiedFile(store, prefix, step, name, expected));

  const model = decodeSafetensors(bytes.get(MODEL_FILE)!, store.uriOf(prefix + MODEL_FILE));
  const optimizer = decodeSafetensors(bytes.get(OPTIMIZER_FILE)!, store.uriOf(prefix + OPTIMIZER_FILE));
  return {
    step: document.step,
    epoch: document.epoch,
    writtenAt: document.writtenAt,
    prefix,
    state: document.state as S,
    model: model.tensors,
    optimizer: optimizer.tensors,
    metadata: model.metadata,
  };
}

/** Every checkpoint folder under checkpoints/, by step, with whether it is complete; cheap (one listing plus each state.json). */
export async function listCheckpoints(store: ObjectStore): Promise<CheckpointListing[]> {
  const folders = new Map<number, Map<string, ObjectInfo>>();
  for await (const info of store.list(CHECKPOINTS_PREFIX)) {
    const step = stepOfCheckpointKey(info.key);
    if (step === undefined) continue;
    if (!folders.has(step)) folders.set(step, new Map());
    folders.get(step)!.set(info.key.slice(checkpointPrefix(step).length), info);
  }
  const listings: CheckpointListing[] = [];
  for (const step of [...folders.keys()].sort((a, b) => a - b)) {
    listings.push(await describeFolder(store, step, folders.get(step)!));
  }
  return listings;
}

/**
 * Fully checks one checkpoint: state.json is valid and every file it lists has the recorded size and
 * SHA-256. Throws what loadCheckpoint would; returns the state document when all is well.
 */
export async function verifyCheckpoint(store: ObjectStore, step: number): Promise<CheckpointStateDocument> {
  const prefix = checkpointPrefix(step);
  const document = await readStateDocument(store, prefix, step);
  for (const [name, expected] of Object.entries(document.files))
    await readVerifiedFile(store, prefix, step, name, expected);
  return document;
}

/** latest.json, or undefined when there is none yet; CorruptDataError when it is not a valid pointer. */
export async function readLatestPointer(store: ObjectStore): Promise<LatestPointer | undefined> {
  let raw: unknown;
  try {
    raw = await getJson(store, LATEST_KEY);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
  const parsed = latestPointerSchema.safeParse(raw);
  if (!parsed.success) {
    throw new CorruptDataError(
      store.uriOf(LATEST_KEY),
      `not a checkpoint pointer (${describeIssues(parsed.error)})`,
      "delete it and resume with --resume-from <step>, or point it at a complete checkpoint folder",
    );
  }
  return parsed.data;
}

/** "/runs/r1/checkpoints/00000120/": the URI of a folder (uriOf rejects keys ending in "/"). */
export function folderUri(store: ObjectStore, prefix: string): string {
  return store.uriOf(prefix.replace(/\/$/, "")) + "/";
}

async function describeFolder(
  store: ObjectStore,
  step: number,
  objects: Map<string, ObjectInfo>,
): Promise<CheckpointListing> {
  const prefix = checkpointPrefix(step);
  const incomplete = (reason: string, extra: Partial<CheckpointListing> = {}): CheckpointListing => ({
    step,
    prefix,
    complete: false,
    reason,
    ...extra,
  });
  if (objects.has(DELETING_MARKER_FILE))
    return incomplete("deletion in progress: a rotation stopped part-way", { deleting: true });
  if (!objects.has(STATE_FILE)) return incomplete(`${STATE_FILE} missing: being written, or a save stopped part-way`);

  const read = await tryReadStateDocument(store, prefix, step);
  if (!read.ok) return incomplete(`${STATE_FILE} ${read.problem}`);
  const document = read.document;
  for (const [name, expected] of Object.entries(document.files)) {
    const actual = objects.get(name);
    if (actual === undefined) return incomplete(`${name} missing`, { state: document });
    if (actual.sizeBytes !== expected.sizeBytes) {
      return incomplete(`${name} is ${actual.sizeBytes} bytes, ${STATE_FILE} says ${expected.sizeBytes}`, {
        state: document,
      });
    }
  }
  return { step, prefix, complete: true, state: document };
}

type StateDocumentRead =
  | { ok: true; document: CheckpointStateDocument }
  | { ok: false; missing: boolean; uri: string; problem: string };

/** Reads and checks state.json without building hints (listCheckpoints uses it, and hints call listCheckpoints). */
async function tryReadStateDocument(store: ObjectStore, prefix: string, step: number): Promise<StateDocumentRead> {
  const key = prefix + STATE_FILE;
  const uri = store.uriOf(key);
  let raw: unknown;
  try {
    raw = await getJson(store, key);
  } catch (err) {
    if (err instanceof NotFoundError) return { ok: false, missing: true, uri, problem: "missing" };
    if (err instanceof CorruptDataError) return { ok: false, missing: false, uri, problem: "not valid JSON" };
    throw err;
  }
  const parsed = checkpointStateDocumentSchema.safeParse(raw);
  if (!parsed.success)
    return {
      ok: false,
      missing: false,
      uri,
      problem: `not a checkpoint state document (${describeIssues(parsed.error)})`,
    };
  if (parsed.data.step !== step)
    return {
      ok: false,
      missing: false,
      uri,
      problem: `records step ${parsed.data.step} but is the state of step ${step}`,
    };
  return { ok: true, document: parsed.data as CheckpointStateDocument };
}

async function readStateDocument(store: ObjectStore, prefix: string, step: number): Promise<CheckpointStateDocument> {
  const read = await tryReadStateDocument(store, prefix, step);
  if (read.ok) return read.document;
  if (read.missing) {
    throw new NotFoundError(
      read.uri,
      `checkpoint ${step} is missing or was never completed; ${await earlierCheckpointsHint(store, step)}`,
    );
  }
  throw new CorruptDataError(read.uri, read.problem, await repairHint(store, prefix, step));
}

/** Reads one file of a checkpoint and checks it against the size and sha256 its state.json lists. */
export async function readVerifiedFile(
  store: ObjectStore,
  prefix: string,
  step: number,
  name: string,
  expected: CheckpointFileInfo,
): Promise<Uint8Array> {
  const key = prefix + name;
  let bytes: Uint8Array;
  try {
    bytes = await store.get(key);
  } catch (err) {
    if (err instanceof NotFoundError)
      throw new NotFoundError(store.uriOf(key), `${STATE_FILE} lists it; ${await repairHint(store, prefix, step)}`);
    throw err;
  }
  const actual: CheckpointFileInfo = { sha256: sha256Hex(bytes), sizeBytes: bytes.byteLength };
  if (actual.sha256 !== expected.sha256 || actual.sizeBytes !== expected.sizeBytes) {
    throw new CorruptDataError(
      store.uriOf(key),
      `expected sha256 ${expected.sha256} and ${expected.sizeBytes} bytes (from ${STATE_FILE}), found sha256 ${actual.sha256} and ${actual.sizeBytes} bytes`,
      await repairHint(store, prefix, step),
    );
  }
  return bytes;
}

/** The fix for a damaged checkpoint: both ways out, with the steps that can be used instead. */
async function repairHint(store: ObjectStore, prefix: string, step: number): Promise<string> {
  return (
    `delete ${folderUri(store, prefix)} and point ${store.uriOf(LATEST_KEY)} at an earlier complete checkpoint, ` +
    `or resume from an earlier one with --resume-from <step>; ${await earlierCheckpointsHint(store, step)}`
  );
}

async function earlierCheckpointsHint(store: ObjectStore, step: number): Promise<string> {
  const complete = (await listCheckpoints(store)).filter((c) => c.complete && c.step !== step).map((c) => c.step);
  return complete.length > 0 ? `complete checkpoints: ${complete.join(", ")}` : "there is no other complete checkpoint";
}

/**
 * Before files of an existing checkpoint are replaced with different bytes: move latest.json off it
 * (to the newest earlier complete checkpoint, or remove it when there is none) and delete its
 * state.json, so that until the new state.json lands the folder reads as incomplete, never as a
 * checkpoint whose checksums do not match. Re-saving identical files needs none of this.
 */
async function makeFolderSafeToRewrite(
  store: ObjectStore,
  step: number,
  newFiles: Record<string, CheckpointFileInfo>,
): Promise<void> {
  const prefix = checkpointPrefix(step);
  const [stateInfo, markerInfo] = await Promise.all([
    store.head(prefix + STATE_FILE),
    store.head(prefix + DELETING_MARKER_FILE),
  ]);
  if (stateInfo === undefined && markerInfo === undefined) return;
  if (markerInfo === undefined) {
    const existing = await tryReadStateDocument(store, prefix, step);
    if (existing.ok && sameFiles(existing.document.files, newFiles)) return;
  }

  const pointer = await readLatestPointer(store).catch(() => undefined);
  if (pointer?.prefix === prefix) {
    const earlier = (await listCheckpoints(store)).filter((c) => c.complete && c.step < step).at(-1);
    if (earlier?.state) {
      await store.publish(LATEST_KEY, {
        step: earlier.step,
        epoch: earlier.state.epoch,
        prefix: earlier.prefix,
        writtenAt: earlier.state.writtenAt,
      } satisfies LatestPointer);
    } else {
      await store.delete(LATEST_KEY);
    }
  }
  await store.delete(prefix + STATE_FILE);
  // The marker goes after state.json, so the folder never reads as complete while marked or in between.
  if (markerInfo !== undefined) await store.delete(prefix + DELETING_MARKER_FILE);
}

function sameFiles(a: Record<string, CheckpointFileInfo>, b: Record<string, CheckpointFileInfo>): boolean {
  const names = Object.keys(a);
  return (
    names.length === Object.keys(b).length &&
    names.every((n) => b[n] !== undefined && a[n].sha256 === b[n].sha256 && a[n].sizeBytes === b[n].sizeBytes)
  );
}

async function expectStoredSize(store: ObjectStore, key: string, sizeBytes: number): Promise<void> {
  const info = await store.head(key);
  if (info === undefined || info.sizeBytes !== sizeBytes) {
    throw new CorruptDataError(
      store.uriOf(key),
      `wrote ${sizeBytes} bytes but the store reports ${info === undefined ? "no object" : `${info.sizeBytes} bytes`}`,
      "retry the save (latest.json still points at the previous checkpoint); if it repeats, check the store's free space and permissions",
    );
  }
}

function describeIssues(error: z.ZodError): string {
  return describeZodIssues(error, "document");
}
