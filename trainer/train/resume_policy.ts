// Whether a training call starts a run or resumes one, and what it then trains with: config, seed, data, replicas.
import os from "node:os";
import type { BackendInfo } from "../backend.js";
import { type LoadedCheckpoint, loadCheckpoint, readLatestPointer } from "../checkpoint/checkpoint_store.js";
import type { TrainConfig } from "../config/schema.js";
import { ConfigError, DataError, IjepaError } from "../errors.js";
import { type TrainState, parseTrainState } from "../run/checkpoint_state.js";
import type { LatestPointer } from "../run/latest_pointer.js";
import { STATE_FILE } from "../run/run_layout.js";
import type { ObjectStore } from "../storage/object_store.js";

/** What the caller asked for (a subset of TrainOptions). */
export interface ResumeRequest {
  config?: TrainConfig;
  configName?: string;
  data?: string;
  epochs?: number;
  resume?: boolean;
  /** Resume when the run has a checkpoint, else start it. */
  autoResume?: boolean;
  resumeFrom?: number;
  seed?: number;
  /** The origin of an injected source, which names the data when one is given. */
  sourceOrigin?: string;
}

/** What training runs with, once the checkpoint (if any) and the request are reconciled. */
export interface ResumePlan {
  checkpoint: LoadedCheckpoint<TrainState> | undefined;
  /** The run's latest.json when the plan was made (undefined for a new run's empty folder). */
  latest: LatestPointer | undefined;
  config: TrainConfig;
  configName: string;
  seed: number;
  data: string;
}

/**
 * Resume first: the checkpoint's config, seed and data win unless overridden (only --epochs, --seed and
 * --data can change on resume). Refuses to start afresh over an existing run.
 */
export async function planResume(
  store: ObjectStore,
  request: ResumeRequest,
  log: (line: string) => void,
): Promise<ResumePlan> {
  const latest = await readLatestPointer(store);
  const wantResume =
    request.resume ||
    request.resumeFrom !== undefined ||
    Boolean(request.config?.meta.load_checkpoint) ||
    (request.autoResume === true && latest !== undefined);
  if (!wantResume && latest) {
    throw new IjepaError(
      `${store.baseUri} already holds a run (checkpoint at step ${latest.step})`,
      "pass --resume to continue it, or choose another --out",
    );
  }
  const checkpoint = wantResume ? await loadTrainCheckpoint(store, request.resumeFrom ?? "latest") : undefined;
  const base = checkpoint ? checkpoint.state.config : request.config;
  if (!base)
    throw new ConfigError(
      "no config given",
      "pass --config with a YAML file or a preset name (smoke, fmnist-vit-tiny, …)",
    );
  const config = structuredClone(base);
  if (request.epochs !== undefined) config.optimization.epochs = request.epochs;
  if (checkpoint && request.config) {
    const given = structuredClone(request.config);
    given.optimization.epochs = config.optimization.epochs;
    if (JSON.stringify(given) !== JSON.stringify(config)) {
      log(
        "note: --config differs from the config this run was trained with; resuming uses the run's own " +
          "(only --epochs, --seed and --data can change on resume)",
      );
    }
  }
  const seed = request.seed ?? checkpoint?.state.seed ?? config.meta.seed;
  // An injected source names itself; otherwise --data, then the checkpoint's, then the config's.
  const data = request.data ?? request.sourceOrigin ?? checkpoint?.state.data ?? config.data.dataset;
  if (!data)
    throw new DataError(
      "no dataset given",
      "pass --data (e.g. --data fashion-mnist) or set data.dataset in the config",
    );
  const configName = request.configName ?? checkpoint?.state.configName ?? "config";
  return { checkpoint, latest, config, configName, seed, data };
}

/** A checkpoint with its trainer state checked against the run contract's schema. */
async function loadTrainCheckpoint(
  store: ObjectStore,
  which: "latest" | number,
): Promise<LoadedCheckpoint<TrainState>> {
  const checkpoint = await loadCheckpoint(store, which);
  return {
    ...checkpoint,
    state: parseTrainState(checkpoint.state, store.uriOf(checkpoint.prefix + STATE_FILE), checkpoint.step),
  };
}

/**
 * Replicas for this process: an explicit --replicas, else the checkpoint's count, else min(cores, 4) — on
 * wasm/cpu only.
 */
export function chooseReplicas(
  requested: number | undefined,
  fromCheckpoint: number | undefined,
  backend: BackendInfo,
  batchSize: number,
): number {
  if (requested !== undefined && requested < 1) throw new IjepaError(`--replicas ${requested}`, "use 1 or more");
  if (backend.name === "node" || backend.name === "node-gpu") {
    if (requested && requested > 1)
      throw new IjepaError(
        `--replicas ${requested} is for the wasm/cpu backends`,
        "TensorFlow's native backend uses every core (or the GPU) in one process; drop --replicas",
      );
    return 1;
  }
  let replicas =
    requested ?? fromCheckpoint ?? Math.min(4, Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
  while (replicas > 1 && batchSize % replicas !== 0) replicas -= 1;
  if (requested && replicas !== requested) {
    throw new IjepaError(
      `data.batch_size ${batchSize} does not split evenly over --replicas ${requested}`,
      `use a replica count that divides the batch size`,
    );
  }
  return replicas;
}

/**
 * Exact resume needs the same backend, replica count and data; anything else still resumes, but the
 * returned note says so (undefined when nothing differs).
 */
export function resumeDifferences(
  state: TrainState,
  now: { replicas: number; backend: string; itersPerEpoch: number },
): string | undefined {
  const differences = [
    state.replicas !== now.replicas ? `${state.replicas} replica(s), now ${now.replicas}` : "",
    state.backend !== now.backend ? `backend ${state.backend}, now ${now.backend}` : "",
    state.itersPerEpoch !== now.itersPerEpoch
      ? `${state.itersPerEpoch} steps per epoch, now ${now.itersPerEpoch} ` +
        "(other data: epoch boundaries and schedules shift)"
      : "",
  ].filter(Boolean);
  return differences.length
    ? `note: the checkpoint was trained with ${differences.join("; ")}: ` +
        "training continues, but not bit-identically to an uninterrupted run"
    : undefined;
}
