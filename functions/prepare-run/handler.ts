// PrepareRun: validates the execution input (the console's JSON), resolves the preset, writes input.json and
// config.yaml to the run, and takes the run's lock for this execution. Returns the pointers the workflow routes.
import { existsSync, readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { stringify as toYaml } from "yaml";
import { z } from "zod";
import { datasetFolder } from "../../trainer/run/dataset_layout.js";
import { readLatestPointer } from "../../trainer/checkpoint/checkpoint_store.js";
import { parseConfig } from "../../trainer/config/load_config.js";
import type { TrainConfig } from "../../trainer/config/schema.js";
import { ConfigError, NotFoundError } from "../../trainer/errors.js";
import { BUILTIN_DATASET, datasetName, defaultRunId, parseExecutionInput } from "../../trainer/run/execution_input.js";
import { type RunLockDocument, acquireRunLock, releaseRunLock } from "../../trainer/run/run_lock.js";
import { CONFIG_KEY, INPUT_KEY } from "../../trainer/run/run_layout.js";
import type { ObjectStore } from "../../trainer/storage/object_store.js";
import { openParent, joinUri } from "../../trainer/storage/open_store.js";
import type { HandlerDeps } from "../handler_deps.js";
import { parseEvent } from "../parse_event.js";
import { executionOwner, requireRoot } from "../workflow_env.js";

/** What the state machine passes: the raw input and the context object's execution name and id. */
export const prepareRunEventSchema = z.strictObject({
  input: z.unknown(),
  executionName: z.string().min(1),
  executionId: z.string().min(1),
});

/** The state the workflow carries from here on: pointers and small numbers only. */
export interface PreparedRun {
  run: {
    runId: string;
    runUri: string;
    configUri: string;
    /** Total epochs of the run. */
    epochs: number;
    segmentEpochs: number;
    /** 0 = no cap. */
    maxSteps: number;
    probeTrainLimit: number;
    /** 0 = the whole test split. */
    probeTestLimit: number;
    keepLast: number;
    keepBest: number;
    keepEvery: number;
    lockOwner: string;
  };
  /** The ShardDataset event: where the raw dataset is and where its shards go. */
  shard: { source: string; format: "idx" | "cifar" | "imagefolder"; output: string; name: string };
  /** Nothing planned yet (PlanSegment reads this back to notice a segment that made no progress). */
  plan: { action: "start"; step: number };
}

/**
 * Is the execution that holds a lock still running? On AWS: DescribeExecution; locally: the runner's record.
 * undefined = cannot tell (then only a stale heartbeat frees the lock).
 */
export type IsExecutionRunning = (
  holderName: string,
  ownExecutionId: string,
  run: ObjectStore,
) => Promise<boolean | undefined>;

export interface PrepareRunOptions {
  isExecutionRunning?: IsExecutionRunning;
}

/**
 * An execution writes no heartbeat while its segments train (hours to days), so its lock never goes stale before
 * a Standard execution could have ended (one year): whether the holder still runs is asked instead
 * (DescribeExecution on AWS, the local runner's record locally), and a finished one is taken over at once.
 */
export const EXECUTION_LOCK_STALE_SECONDS = 366 * 24 * 3600;

export function makeHandler(deps: HandlerDeps, options: PrepareRunOptions = {}) {
  return async (event: unknown): Promise<PreparedRun> => {
    const parsed = parseEvent(
      prepareRunEventSchema,
      event,
      "prepare-run",
      "{input, executionName, executionId} as the state machine passes them",
    );
    const { executionName, executionId } = parsed;
    const input = parseExecutionInput(parsed.input);
    const runsRoot = requireRoot(deps.env, "RUNS_ROOT");
    const datasetsRoot = requireRoot(deps.env, "DATASETS_ROOT");
    const config = await resolveConfig(input.config, deps);
    if (input.epochs !== undefined) config.optimization.epochs = input.epochs;
    const runId = defaultRunId(input);
    const runUri = joinUri(runsRoot, runId);
    const store = await deps.openStore(runUri);

    const owner = executionOwner(executionName);
    await acquireRunLock(store, {
      owner,
      ownerKind: "execution",
      staleAfterSeconds: EXECUTION_LOCK_STALE_SECONDS,
      now: deps.now,
      isHolderAlive: async (holder: RunLockDocument) => {
        if (holder.ownerKind !== "execution" || !options.isExecutionRunning) return undefined;
        return options.isExecutionRunning(holder.owner.slice("execution:".length), executionId, store);
      },
    });

    // A run that has checkpoints keeps its own config: resuming with another one would silently change the run.
    const latest = await readLatestPointer(store);
    if (latest && (await store.head(CONFIG_KEY))) {
      const stored = parseConfig(new TextDecoder().decode(await store.get(CONFIG_KEY)), store.uriOf(CONFIG_KEY));
      if (JSON.stringify(stored) !== JSON.stringify(config)) {
        await releaseRunLock(store, owner, deps.now);
        throw new ConfigError(
          `run ${runId} was trained with another config (or epochs) than ${input.config}${input.epochs ? ` with epochs ${input.epochs}` : ""}`,
          `resume it with the same config and epochs, or give a new runId (its config is ${store.uriOf(CONFIG_KEY)})`,
        );
      }
    } else {
      await store.put(CONFIG_KEY, toYaml(config), { contentType: "application/yaml" });
    }
    await store.put(INPUT_KEY, `${JSON.stringify({ ...input, executionName, executionId }, null, 2)}\n`, {
      contentType: "application/json",
    });

    const name = datasetName(input);
    return {
      run: {
        runId,
        runUri,
        configUri: store.uriOf(CONFIG_KEY),
        epochs: config.optimization.epochs,
        segmentEpochs: input.segmentEpochs,
        maxSteps: input.maxSteps ?? 0,
        // The input's probe sizes, else the config's (a small preset such as smoke asks for a small probe).
        probeTrainLimit: input.probeTrainLimit ?? config.logging.probe_train_limit,
        probeTestLimit: input.probeTestLimit ?? config.logging.probe_test_limit,
        keepLast: input.keepLast,
        keepBest: input.keepBest,
        keepEvery: input.keepEvery,
        lockOwner: owner,
      },
      shard: {
        source: input.dataset,
        format: input.dataset === BUILTIN_DATASET ? "idx" : input.format,
        output: joinUri(datasetsRoot, datasetFolder(name)),
        name,
      },
      plan: { action: "start", step: -1 },
    };
  };
}

const PRESET_NAME = /^[a-z0-9][a-z0-9-]*$/;

/** A preset shipped with the code (configs/ beside the bundle on Lambda, in the repo locally), or a YAML file's URI. */
async function resolveConfig(nameOrUri: string, deps: HandlerDeps): Promise<TrainConfig> {
  if (PRESET_NAME.test(nameOrUri)) {
    const dirs = presetDirs(deps.env);
    for (const dir of dirs) {
      const file = path.join(dir, `${nameOrUri}.yaml`);
      if (existsSync(file)) {
        return parseConfig(await readFile(file, "utf8"), `preset ${nameOrUri}`);
      }
    }
    const known = dirs.flatMap((d) => listPresets(d));
    throw new ConfigError(
      `config: no preset named ${JSON.stringify(nameOrUri)}`,
      `use one of ${[...new Set(known)].join(", ")}, or the URI of a YAML file`,
    );
  }
  const { store, key } = openParent(nameOrUri);
  let text: string;
  try {
    text = new TextDecoder().decode(await store.get(key));
  } catch (err) {
    if (err instanceof NotFoundError)
      throw new ConfigError(`config: ${nameOrUri} not found`, "give a preset name or the URI of a YAML config");
    throw err;
  }
  return parseConfig(text, nameOrUri);
}

function presetDirs(env: HandlerDeps["env"]): string[] {
  const repoConfigs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../configs");
  return [
    env.IJEPA_PRESETS_DIR,
    env.LAMBDA_TASK_ROOT && path.join(env.LAMBDA_TASK_ROOT, "configs"),
    repoConfigs,
  ].filter((d): d is string => typeof d === "string" && d !== "" && existsSync(d));
}

function listPresets(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => f.slice(0, -".yaml".length));
}
