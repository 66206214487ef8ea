// `ijepa pull`: copies one checkpoint of a run, with the run's config, metrics, probes and report, into a folder laid out like a run.
import { requireFolderLocation } from "../storage/folder_location.js";
import { markPullTarget, refuseForeignPullTarget } from "./pull_target_guard.js";
import { PassThrough, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { folderUri, readLatestPointer, verifyCheckpoint } from "../checkpoint/checkpoint_store.js";
import { sha256Hex } from "../utils/sha256.js";
import {
  CONFIG_KEY,
  LATEST_KEY,
  type LatestPointer,
  METRICS_KEY,
  PROBE_PREFIX,
  REPORT_PREFIX,
  STATE_FILE,
} from "../run/run_layout.js";
import type { ProbeMetric } from "../checkpoint/rotation.js";
import { ConfigError, CorruptDataError, IjepaError } from "../errors.js";
import type { ObjectStore } from "../storage/object_store.js";
import { openStore as openStoreAt } from "../storage/open_store.js";
import { type CheckpointChoice, chooseCheckpoint } from "../checkpoint/choose_checkpoint.js";

export interface PullOptions {
  /** The run: a folder or s3:// prefix holding checkpoints/. */
  run: string;
  which: CheckpointChoice;
  /** Where the copy goes (a local folder, usually); made if missing. */
  to: string;
  /** Probe metric that ranks checkpoints for which = "best" (default linearTop1). */
  metric?: ProbeMetric;
  /** Pull into a folder that holds other files (another run, a user's) and overwrite those of the same names. */
  force?: boolean;
}

/** Bytes moved so far; files found already in place count as done the moment they are checked. */
export interface PullProgress {
  /** Key being copied or checked, relative to the run. */
  key: string;
  bytesDone: number;
  bytesTotal: number;
}

export interface PullDeps {
  onProgress?: (progress: PullProgress) => void;
  /** Defaults to trainer/storage/open_store.ts's openStore. */
  openStore?: (uri: string) => ObjectStore;
}

export interface PulledFile {
  key: string;
  sizeBytes: number;
  /** "unchanged": it was already there with the same bytes, and was neither downloaded nor rewritten. */
  action: "copied" | "unchanged";
}

export interface PullResult {
  step: number;
  epoch: number;
  /** Why this checkpoint: "latest.json points here", "best linearTop1 (0.81)", … */
  reason: string;
  /** URI of the source checkpoint folder. */
  from: string;
  /** Base URI of the copy. */
  to: string;
  /** Every file of the copy, latest.json last. */
  files: PulledFile[];
  bytesCopied: number;
}

interface PlannedFile {
  key: string;
  sizeBytes: number;
}

/**
 * Copies the chosen checkpoint folder (model.safetensors, optimizer.safetensors, state.json), the
 * run's config.yaml, metrics.jsonl, probe/ and report/ (those that exist), then publishes a
 * latest.json pointing at the copy, so `ijepa train --resume --out <to>` and `ijepa probe` work on it.
 *
 * Order, so that an interrupted pull never leaves a copy that reads as complete but is not: the
 * checkpoint's files, then its state.json, then a full checksum verification of the copy against
 * state.json (a failure removes the copied state.json again), then the run's other files, then
 * latest.json. Files already there with the right bytes are not downloaded again, so a second pull
 * of the same checkpoint copies nothing.
 */
export async function pullRun(options: PullOptions, deps: PullDeps = {}): Promise<PullResult> {
  const open = deps.openStore ?? openStoreAt;
  const source = open(options.run);
  requireFolderLocation(options.to, "--to");
  const target = open(options.to);
  if (source.baseUri === target.baseUri) {
    throw new ConfigError(
      `pull source and destination are the same place: ${source.baseUri}`,
      "pull into another folder",
    );
  }
  await refuseForeignPullTarget(target, source.baseUri, Boolean(options.force));
  const chosen = await chooseCheckpoint(source, options.which, options.metric);
  const { prefix, step, document } = chosen;
  const sourceFolder = folderUri(source, prefix);

  const stateKey = prefix + STATE_FILE;
  const stateBytes = await source.get(stateKey);
  const existingState = await getIfPresent(target, stateKey);
  if (existingState !== undefined && !sameBytes(existingState, stateBytes)) {
    throw new IjepaError(
      `${folderUri(target, prefix)} already holds a different checkpoint of step ${step} than ${sourceFolder}`,
      "pull into an empty folder, or delete that checkpoint folder first if it may be replaced",
    );
  }

  const checkpointFiles: PlannedFile[] = Object.entries(document.files).map(([name, info]) => ({
    key: prefix + name,
    sizeBytes: info.sizeBytes,
  }));
  const runFiles = await listRunFiles(source);
  const total = [...checkpointFiles, ...runFiles].reduce((n, f) => n + f.sizeBytes, stateBytes.byteLength);
  const progress = new ProgressCounter(total, deps.onProgress);
  const files: PulledFile[] = [];

  await markPullTarget(target, source.baseUri);
  const copyIsVerified = existingState !== undefined && (await verifies(target, step));
  if (copyIsVerified) {
    for (const file of checkpointFiles) files.push({ ...file, action: "unchanged" });
    progress.advance(stateKey, stateBytes.byteLength + checkpointFiles.reduce((n, f) => n + f.sizeBytes, 0));
    files.push({ key: stateKey, sizeBytes: stateBytes.byteLength, action: "unchanged" });
  } else {
    // Until the verified state.json lands, the copied folder must read as incomplete.
    if (existingState !== undefined) await target.delete(stateKey);
    for (const file of checkpointFiles) {
      const expected = document.files[file.key.slice(prefix.length)];
      const present = await target.head(file.key);
      if (present?.sizeBytes === expected.sizeBytes && sha256Hex(await target.get(file.key)) === expected.sha256) {
        progress.advance(file.key, file.sizeBytes);
        files.push({ ...file, action: "unchanged" });
      } else {
        await copyStreaming(source, target, file, progress);
        files.push({ ...file, action: "copied" });
      }
    }
    await target.put(stateKey, stateBytes, { contentType: "application/json" });
    progress.advance(stateKey, stateBytes.byteLength);
    files.push({ key: stateKey, sizeBytes: stateBytes.byteLength, action: "copied" });
    try {
      await verifyCheckpoint(target, step);
    } catch (err) {
      await target.delete(stateKey);
      if (!(err instanceof IjepaError)) throw err;
      throw new CorruptDataError(
        sourceFolder,
        `the copy in ${folderUri(target, prefix)} does not match the checksums in ${STATE_FILE} (${firstLine(err.message)})`,
        "pull again (a damaged transfer is fetched anew; good files are kept); if it repeats, the source checkpoint is damaged: pull another step",
      );
    }
  }

  for (const file of runFiles) files.push(await copyIfChanged(source, target, file, progress));

  const pointer: LatestPointer = { step, epoch: document.epoch, prefix, writtenAt: document.writtenAt };
  // A damaged latest.json in the target is simply replaced.
  const current = await readLatestPointer(target).catch(() => undefined);
  const pointerUnchanged =
    current !== undefined &&
    current.step === pointer.step &&
    current.epoch === pointer.epoch &&
    current.prefix === pointer.prefix &&
    current.writtenAt === pointer.writtenAt;
  if (!pointerUnchanged) await target.publish(LATEST_KEY, pointer);
  const pointerInfo = await target.head(LATEST_KEY);
  files.push({
    key: LATEST_KEY,
    sizeBytes: pointerInfo?.sizeBytes ?? 0,
    action: pointerUnchanged ? "unchanged" : "copied",
  });

  return {
    step,
    epoch: document.epoch,
    reason: chosen.reason,
    from: sourceFolder,
    to: target.baseUri,
    files,
    bytesCopied: files
      .filter((f) => f.action === "copied" && f.key !== LATEST_KEY)
      .reduce((n, f) => n + f.sizeBytes, 0),
  };
}

/** config.yaml, metrics.jsonl and everything under probe/ and report/, as far as they exist. */
async function listRunFiles(store: ObjectStore): Promise<PlannedFile[]> {
  const files: PlannedFile[] = [];
  for (const key of [CONFIG_KEY, METRICS_KEY]) {
    const info = await store.head(key);
    if (info) files.push({ key, sizeBytes: info.sizeBytes });
  }
  for (const prefix of [PROBE_PREFIX, REPORT_PREFIX]) {
    for await (const info of store.list(prefix)) files.push({ key: info.key, sizeBytes: info.sizeBytes });
  }
  return files;
}

/** Streams one object across, counting bytes as they pass; the target's put is atomic, so a broken copy leaves nothing. */
async function copyStreaming(
  source: ObjectStore,
  target: ObjectStore,
  file: PlannedFile,
  progress: ProgressCounter,
): Promise<void> {
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      progress.advance(file.key, chunk.length);
      done(null, chunk);
    },
  });
  const body = new PassThrough();
  const input = await source.getStream(file.key);
  const results = await Promise.allSettled([
    pipeline(input, counter, body),
    target.put(file.key, body, { contentType: "application/octet-stream" }),
  ]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    // Whichever side failed, release the other (a failed put would otherwise leave the download paused).
    input.destroy();
    body.destroy();
    throw failed.reason;
  }
  const stored = await target.head(file.key);
  if (stored?.sizeBytes !== file.sizeBytes) {
    throw new CorruptDataError(
      target.uriOf(file.key),
      `copied ${stored?.sizeBytes ?? 0} bytes of ${source.uriOf(file.key)}, which has ${file.sizeBytes}`,
      "pull again; if the source changed meanwhile (a run still training), that is expected",
    );
  }
}

/** Small run files have no recorded checksum: compare the bytes themselves, and leave identical ones untouched. */
async function copyIfChanged(
  source: ObjectStore,
  target: ObjectStore,
  file: PlannedFile,
  progress: ProgressCounter,
): Promise<PulledFile> {
  const present = await target.head(file.key);
  if (present?.sizeBytes === file.sizeBytes) {
    const wanted = await source.get(file.key);
    if (sameBytes(wanted, await target.get(file.key))) {
      progress.advance(file.key, file.sizeBytes);
      return { ...file, action: "unchanged" };
    }
    await target.put(file.key, wanted);
    progress.advance(file.key, file.sizeBytes);
    return { ...file, action: "copied" };
  }
  await copyStreaming(source, target, file, progress);
  return { ...file, action: "copied" };
}

async function verifies(store: ObjectStore, step: number): Promise<boolean> {
  try {
    await verifyCheckpoint(store, step);
    return true;
  } catch (err) {
    if (err instanceof IjepaError) return false;
    throw err;
  }
}

async function getIfPresent(store: ObjectStore, key: string): Promise<Uint8Array | undefined> {
  return (await store.head(key)) ? store.get(key) : undefined;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function firstLine(text: string): string {
  return text.split("\n")[0];
}

/** Running byte count over the whole pull; files found in place count as done when checked. */
class ProgressCounter {
  private done = 0;
  constructor(
    private readonly total: number,
    private readonly report?: (progress: PullProgress) => void,
  ) {}

  advance(key: string, bytes: number): void {
    this.done += bytes;
    this.report?.({ key, bytesDone: this.done, bytesTotal: this.total });
  }
}
