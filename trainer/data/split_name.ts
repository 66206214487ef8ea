// The two splits every dataset is cut into: train (pretraining and probe fitting) and test (probe scoring).

export type SplitName = "train" | "test";

export const SPLIT_NAMES: readonly SplitName[] = ["train", "test"];
