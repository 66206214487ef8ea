// Resolves `--config`: a preset name from configs/, a local YAML path, or a store URI (s3://bucket/run/config.yaml).
import path from "node:path";
import { openParent } from "../storage/open_store.js";
import { NotFoundError } from "../errors.js";
import type { TrainConfig } from "../config/schema.js";
import { resolveConfigPath } from "../config/config_path.js";
import { loadConfigFile, parseConfig } from "../config/load_config.js";

export interface LoadedConfigArg {
  config: TrainConfig;
  /** Recorded in metrics and checkpoints: the file's name without .yaml. */
  configName: string;
}

const STORE_URI = /^[a-z][a-z0-9+.-]*:\/\//i;

/** `open` is the store opener (injectable for tests); PrepareRun writes `<run>/config.yaml` for the job to read. */
export async function loadConfigArg(arg: string, open: typeof openParent = openParent): Promise<LoadedConfigArg> {
  if (STORE_URI.test(arg) && !arg.startsWith("file://")) {
    const { store, key } = open(arg);
    if (!(await store.head(key)))
      throw new NotFoundError(
        arg,
        "pass --config with a preset name, a YAML file, or the URI of one (s3://bucket/run/config.yaml)",
      );
    const text = new TextDecoder().decode(await store.get(key));
    return { config: parseConfig(text, arg), configName: path.posix.basename(key).replace(/\.ya?ml$/, "") };
  }
  const file = resolveConfigPath(arg.startsWith("file://") ? new URL(arg).pathname : arg);
  return { config: await loadConfigFile(file), configName: path.basename(file).replace(/\.ya?ml$/, "") };
}
