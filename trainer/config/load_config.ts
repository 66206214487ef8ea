// Reads a YAML config, validates it against the schema, and turns every problem into one line naming the key.
import { readFile, stat } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { ConfigError } from "../errors.js";
import { trainConfigSchema, type TrainConfig } from "./schema.js";
import { resolveModelDims } from "../models/model_dims.js";
import { maskOptionsFromConfig } from "../masks/mask_config.js";
import { MultiBlockMaskSampler } from "../masks/multiblock.js";
import { ABSOLUTE_MAX_BYTES, refuseUnfitConfig } from "./resource_estimate.js";

/** A config is a few KB; anything past this is not one (and a 50 MB list would take minutes and GBs to parse). */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** Loads and validates a config file. Throws ConfigError whose message names the file and the key. */
export async function loadConfigFile(path: string): Promise<TrainConfig> {
  let text: string;
  try {
    // A folder, a device (/dev/zero never ends) or a huge file is refused before a byte is read.
    const st = await stat(path);
    if (!st.isFile()) {
      throw new ConfigError(
        `config ${path} is ${st.isDirectory() ? "a folder" : "not a regular file"}`,
        "pass --config with a YAML file such as configs/smoke.yaml, or a preset name",
      );
    }
    if (st.size > MAX_CONFIG_BYTES) {
      throw new ConfigError(
        `config ${path} is ${st.size} bytes, over the ${MAX_CONFIG_BYTES} bytes a config may have (presets: ~2 KB)`,
        "pass a config file of the official sections (data, mask, meta, optimization, logging)",
      );
    }
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new ConfigError(`config file not found: ${path}`, "pass --config with a path such as configs/smoke.yaml");
    }
    if ((err as NodeJS.ErrnoException).code === "EISDIR") {
      throw new ConfigError(`config ${path} is a folder`, "pass --config with a YAML file");
    }
    throw err;
  }
  return parseConfig(text, path);
}

/** Parses YAML text (or an already-parsed object) into a validated config. */
export function parseConfig(source: string | unknown, origin = "config"): TrainConfig {
  let raw: unknown = source;
  if (typeof source === "string") {
    try {
      raw = parseYaml(source);
    } catch (err) {
      if (err instanceof RangeError) {
        throw new ConfigError(`${origin}: nested too deeply to be a config`, "use the official sections");
      }
      throw new ConfigError(
        `${origin}: not valid YAML: ${(err as Error).message.split("\n")[0]}`,
        "fix the YAML syntax",
      );
    }
  }
  const result = trainConfigSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => describeIssue(issue, raw));
    throw new ConfigError(`${origin}: ${lines.join("; ")}`);
  }
  checkConsistency(result.data, origin);
  return result.data;
}

function checkConsistency(config: TrainConfig, origin: string): void {
  const { crop_size } = config.data;
  const { patch_size } = config.mask;
  if (crop_size % patch_size !== 0) {
    throw new ConfigError(
      `${origin}: data.crop_size ${crop_size} is not a multiple of mask.patch_size ${patch_size}`,
      "choose a crop size that the patch size divides (e.g. 28 with patch 4)",
    );
  }
  let dims: ReturnType<typeof resolveModelDims>;
  try {
    dims = resolveModelDims(config);
  } catch (err) {
    throw new ConfigError(`${origin}: ${(err as Error).message}`);
  }
  // Before the mask sampler (whose tables grow with the patch grid) or anything else is built: a config
  // no machine could hold is refused here; `ijepa train` checks against this machine's memory again.
  const { batch_size } = config.data;
  refuseUnfitConfig(origin, dims, batch_size, config.mask.num_pred_masks, ABSOLUTE_MAX_BYTES, "any machine we know");
  // Impossible masks (e.g. the official min_keep 10 on a 7×7 grid) are refused here, before any data is read.
  try {
    new MultiBlockMaskSampler(maskOptionsFromConfig(config));
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`${origin}: ${err.message.split("\n")[0]}`, err.hint);
    throw err;
  }
}

/** "mask.min_kep: unknown key (did you mean min_keep?)", "meta.model_name: expected one of vit_tiny, …". */
function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  const path = issue.path.map(String).join(".");
  if (issue.code === "unrecognized_keys") {
    const where = path ? `${path}.` : "";
    const known = knownKeys(issue.path.map(String));
    return issue.keys
      .map((key) => {
        const guess = closest(key, known);
        const hint = guess
          ? ` (did you mean ${where}${guess}?)`
          : known.length
            ? ` (known keys: ${known.join(", ")})`
            : "";
        return `${where}${key}: unknown key${hint}`;
      })
      .join("; ");
  }
  if (issue.code === "invalid_value" && "values" in issue && issue.message.startsWith("Invalid")) {
    const got = valueAt(raw, issue.path);
    return `${path}: ${JSON.stringify(got)} is not allowed; expected one of ${(issue.values as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
  }
  if (issue.code === "invalid_type" && valueAt(raw, issue.path) === undefined) {
    return `${path}: missing (expected ${issue.expected})`;
  }
  return `${path || "(top level)"}: ${issue.message}`;
}

function knownKeys(path: string[]): string[] {
  let schema: unknown = trainConfigSchema;
  for (const key of path) {
    const shape = shapeOf(schema);
    if (!shape || !(key in shape)) return [];
    schema = shape[key];
  }
  const shape = shapeOf(schema);
  return shape ? Object.keys(shape) : [];
}

function shapeOf(schema: unknown): Record<string, unknown> | undefined {
  let s = schema as { shape?: Record<string, unknown>; unwrap?: () => unknown; def?: { innerType?: unknown } };
  for (let i = 0; i < 4 && s && !s.shape; i++) {
    s = (s.def?.innerType ?? (typeof s.unwrap === "function" ? s.unwrap() : undefined)) as typeof s;
  }
  return s?.shape;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v = raw as Record<PropertyKey, unknown> | undefined;
  for (const key of path) v = v && typeof v === "object" ? (v[key] as Record<PropertyKey, unknown>) : undefined;
  return v;
}

function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length];
}
