// The lines of a run's metrics.jsonl: one JSON object per line, `type` first; the schemas the trainer writes to.
import { z } from "zod";

const wholeNumber = z.number().int().nonnegative();

/** Written once when a process starts (or resumes) training. */
export const startRecordSchema = z.object({
  type: z.literal("start"),
  time: z.string(),
  step: wholeNumber,
  backend: z.string(),
  threads: z.number(),
  replicas: z.number(),
  resumed: z.boolean(),
  configName: z.string(),
});

/** Written after every step (`logging.log_every` sets how often one is also printed). */
export const stepRecordSchema = z.object({
  type: z.literal("step"),
  time: z.string(),
  step: wholeNumber,
  epoch: z.number(),
  loss: z.number(),
  lr: z.number(),
  wd: z.number(),
  momentum: z.number(),
  imgPerSec: z.number(),
  msPerStep: z.number(),
  /** Mask sizes of this batch (patches per context block / per target block). */
  contextPatches: z.number(),
  targetPatches: z.number(),
});

/** Written at the end of each epoch. */
export const epochRecordSchema = z.object({
  type: z.literal("epoch"),
  time: z.string(),
  step: wholeNumber,
  epoch: wholeNumber,
  meanLoss: z.number(),
  /** Mean over feature dimensions of the per-dimension std of average-pooled target-encoder features. */
  targetStd: z.number(),
  /** RankMe (Garrido et al. 2023): exp(entropy of normalised singular values) of the pooled features. */
  effectiveRank: z.number(),
  /** True when targetStd fell below logging.collapse_std_threshold: representations are collapsing. */
  collapseWarning: z.boolean(),
});

export const metricsRecordSchema = z.discriminatedUnion("type", [
  startRecordSchema,
  stepRecordSchema,
  epochRecordSchema,
]);

export type StartRecord = z.infer<typeof startRecordSchema>;
export type StepRecord = z.infer<typeof stepRecordSchema>;
export type EpochRecord = z.infer<typeof epochRecordSchema>;
export type MetricsRecord = z.infer<typeof metricsRecordSchema>;

/**
 * What resuming needs of any line, from this writer or an older one: its kind and step. Lines that are
 * not even this (torn by a crash mid-write) are dropped on resume.
 */
export const metricsLineSchema = z.looseObject({ type: z.string(), step: z.number() });
