// How an image folder maps to examples: class = first folder under the split root, own train/test split or a seeded stratified one.
import { Rng } from "../utils/rng.js";
import { hasImageExtension, IMAGE_EXTENSIONS } from "./image_decode.js";
import type { Rejection } from "./manifest.js";
import type { SplitName } from "./split_name.js";

/** One image file and the label its folder gives it (-1: directly in the root, unlabeled). */
export interface FolderExample {
  key: string;
  label: number;
}

export interface ImageFolderLayout {
  /** Sorted class folder names (label i = classNames[i]); null when no image sits in a class folder. */
  classNames: string[] | null;
  /** Train examples in write order (shuffled from the seed), test examples sorted by key. */
  examples: Record<SplitName, FolderExample[]>;
  /** True when the folder had its own train/ and test/ (or val/) folders. */
  ownSplit: boolean;
  /** Files that are not images by name, or sit outside the split folders. */
  rejected: Rejection[];
}

const TEST_FOLDER_NAMES = ["test", "val"];

/**
 * Lays out an image folder from a listing of its keys (relative to the source root):
 *   root/<class>/…/<image>            labelled by <class>
 *   root/<image>                      unlabeled (-1)
 *   root/train/<class>/…, root/test/… (or val/) the folder's own split (a lone train/ is a plain root); otherwise each class
 *                                     (and the unlabeled group) gives round(n·testFraction) images to test,
 *                                     chosen from the seed.
 * Classes are sorted by name (JavaScript string order, which is Python's for ASCII names) so label
 * numbers match torchvision's ImageFolder.
 */
export function layOutImageFolder(
  keys: readonly string[],
  options: { testFraction: number; seed: number },
): ImageFolderLayout {
  const rejected: Rejection[] = [];
  const topFolders = new Set(keys.filter((k) => k.includes("/")).map((k) => k.slice(0, k.indexOf("/"))));
  const testFolder = topFolders.has("train") ? TEST_FOLDER_NAMES.find((n) => topFolders.has(n)) : undefined;
  const ownSplit = testFolder !== undefined;
  // A lone train/ holding every image is a split root too (its test part is then drawn by stratification).
  const trainOnly = !ownSplit && keys.filter(hasImageExtension).every((k) => k.startsWith("train/"));

  // (split root, path below it) for every image; the class is the first folder below the split root.
  const placed: Array<{ key: string; split: SplitName; className: string | null }> = [];
  for (const key of keys) {
    if (!hasImageExtension(key)) {
      const dot = key.lastIndexOf(".");
      const ext = dot > key.lastIndexOf("/") ? key.slice(dot) : "(none)";
      rejected.push({
        source: key,
        reason: `not an image file by name (extension ${ext}; expected ${IMAGE_EXTENSIONS.join(", ")})`,
      });
      continue;
    }
    let split: SplitName = "train";
    let below = key;
    if (ownSplit) {
      const top = key.includes("/") ? key.slice(0, key.indexOf("/")) : "";
      if (top === "train") split = "train";
      else if (top === testFolder) split = "test";
      else {
        rejected.push({ source: key, reason: `outside the split folders train/ and ${testFolder}/` });
        continue;
      }
      below = key.slice(top.length + 1);
    } else if (trainOnly) {
      below = key.slice("train/".length);
    }
    placed.push({ key, split, className: below.includes("/") ? below.slice(0, below.indexOf("/")) : null });
  }

  const names = [...new Set(placed.map((p) => p.className).filter((c): c is string => c !== null))].sort();
  const classNames = names.length > 0 ? names : null;
  const labelOf = new Map(names.map((n, i) => [n, i]));
  const examples: Record<SplitName, FolderExample[]> = { train: [], test: [] };
  for (const p of placed)
    examples[p.split].push({ key: p.key, label: p.className === null ? -1 : labelOf.get(p.className)! });

  if (!ownSplit && options.testFraction > 0) {
    const split = stratifiedSplit(examples.train, classNames, options);
    examples.train = split.train;
    examples.test = split.test;
  }
  examples.train.sort(byKey);
  examples.test.sort(byKey);
  // Shuffle the train write order so each shard (and each reader window of shards) mixes classes.
  Rng.fromSeed(options.seed, "image-folder/train-order").shuffle(examples.train);
  return { classNames, examples, ownSplit, rejected };
}

function stratifiedSplit(
  all: FolderExample[],
  classNames: string[] | null,
  options: { testFraction: number; seed: number },
): Record<SplitName, FolderExample[]> {
  const groups = new Map<number, FolderExample[]>();
  for (const e of all) {
    const group = groups.get(e.label);
    if (group) group.push(e);
    else groups.set(e.label, [e]);
  }
  const train: FolderExample[] = [];
  const test: FolderExample[] = [];
  for (const [label, members] of [...groups.entries()].sort((a, b) => a[0] - b[0])) {
    members.sort(byKey);
    // One stream per class name, so adding a class leaves the other classes' splits as they were.
    const stream = `image-folder/test-split/${label < 0 || !classNames ? "(unlabeled)" : classNames[label]}`;
    Rng.fromSeed(options.seed, stream).shuffle(members);
    const testCount = Math.round(members.length * options.testFraction);
    test.push(...members.slice(0, testCount));
    train.push(...members.slice(testCount));
  }
  return { train, test };
}

function byKey(a: FolderExample, b: FolderExample): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
