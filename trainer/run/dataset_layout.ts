// Where a sharded dataset's files live in its store: `<root>/datasets/<name>/`, keys relative to that folder.

/** Datasets that `npm start` shards sit beside the runs, under the same root. */
export const DATASETS_PREFIX = "datasets/";
/** Written last: a folder without a valid manifest.json holds no dataset (yet). Its schema: data/manifest.ts. */
export const MANIFEST_KEY = "manifest.json";
export const SHARDS_PREFIX = "shards/";
export const MAX_SHARDS_PER_SPLIT = 100_000;
/**
 * Work in progress of a sharding job (plan and one part per chunk); finalize removes it. A hidden folder with
 * the tool's name, so it cannot be a user's folder; only the sharder removes it.
 */
export const PARTS_PREFIX = ".ijepa-shard-work/";
/** Where a plan is kept for the Distributed Map's workers (removed by finalize, like the parts). */
export const PLAN_KEY = `${PARTS_PREFIX}plan.json`;

/** "datasets/fashion-mnist": the folder of dataset `name`, relative to the root that holds runs and datasets. */
export function datasetFolder(name: string): string {
  return `${DATASETS_PREFIX}${name}`;
}

/** .ijepa-shard-work/00003.json */
export function partKey(chunkIndex: number): string {
  return `${PARTS_PREFIX}${String(chunkIndex).padStart(5, "0")}.json`;
}

/** Keys of shard `index` of a split ("train", "test"), relative to the manifest's folder. */
export function shardKeys(split: string, index: number): { images: string; labels: string } {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_SHARDS_PER_SPLIT) {
    throw new Error(`shard index ${index} is outside 0..${MAX_SHARDS_PER_SPLIT - 1}; use a larger shardSize`);
  }
  const stem = `${SHARDS_PREFIX}${split}-${String(index).padStart(5, "0")}`;
  return { images: `${stem}.images.npy`, labels: `${stem}.labels.npy` };
}
