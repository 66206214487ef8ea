// A run's probe results: probe/<step>.json (one full report) and probe/history.jsonl (one line per probe).
import { z } from "zod";

const accuracy = z.number();

/** Linear and kNN scores of one feature extractor (accuracies are fractions in [0, 1]). */
export const probeScoresSchema = z.object({
  linearTop1: accuracy,
  linearTop5: accuracy.optional(),
  knnTop1: accuracy,
  knnTop5: accuracy.optional(),
  knnK: z.number().int(),
  knnTemperature: z.number(),
  weightDecay: z.number(),
  sweep: z.array(z.object({ weightDecay: z.number(), heldOutTop1: accuracy })),
  featureDim: z.number().int(),
  /** `probeStages`: where the probe's time went (absent in baselines cached before it was recorded). */
  timingsMs: z.object({
    features: z.number(),
    probe: z.number(),
    probeStages: z
      .object({
        standardize: z.number(),
        sweep: z.number(),
        refit: z.number(),
        linearTest: z.number(),
        knn: z.number(),
        total: z.number(),
      })
      .optional(),
  }),
});
export type ProbeScores = z.infer<typeof probeScoresSchema>;

export const BASELINE_NAMES = ["raw", "random"] as const;
export type BaselineName = (typeof BASELINE_NAMES)[number];

/** The document at probe/<step>.json. */
export const probeReportSchema = z.object({
  step: z.number().int().nonnegative(),
  /** URI of the checkpoint folder probed. */
  checkpoint: z.string(),
  dataset: z.string(),
  rows: z.object({ train: z.number().int(), test: z.number().int() }),
  numClasses: z.number().int(),
  encoder: probeScoresSchema,
  baselines: z.partialRecord(z.enum(BASELINE_NAMES), probeScoresSchema.extend({ cached: z.boolean() })),
  settings: z.object({ trainLimit: z.number().int(), testLimit: z.number().int().nullable() }),
  timingsMs: z.object({ total: z.number() }),
  peakRssMb: z.number(),
  /** Set on the value runProbe returns, never stored: where the report was written. */
  writtenTo: z.string().optional(),
});
export type ProbeReport = z.infer<typeof probeReportSchema>;

/**
 * What rotation reads of a probe/<step>.json it finds (also one written by another tool): the encoder's
 * scores under `encoder`, any fields, checked one by one by the reader.
 */
export const probeReportScoresSchema = z.looseObject({ encoder: z.record(z.string(), z.unknown()).optional() });

const baselinePair = z.object({ linearTop1: accuracy, knnTop1: accuracy });

/** One line of probe/history.jsonl: one linear-probe evaluation (probe/<step>.json holds the full result). */
export const probeHistoryRecordSchema = z.object({
  step: z.number().int().nonnegative(),
  time: z.string(),
  dataset: z.string(),
  linearTop1: accuracy,
  linearTop5: accuracy.optional(),
  knnTop1: accuracy,
  baselines: z.object({ raw: baselinePair.optional(), random: baselinePair.optional() }).optional(),
});
export type ProbeHistoryRecord = z.infer<typeof probeHistoryRecordSchema>;

/**
 * What every reader needs of a history line: a whole-number step. The rest is kept as written (lines
 * of older or foreign writers) and checked field by field where it is used.
 */
const probeHistoryLineSchema = z.looseObject({ step: z.number().int().nonnegative() });

/** One line of probe/history.jsonl, or undefined when it is not JSON or has no whole-number step. */
export function parseProbeHistoryLine(line: string): ProbeHistoryRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  const parsed = probeHistoryLineSchema.safeParse(value);
  return parsed.success ? (parsed.data as ProbeHistoryRecord) : undefined;
}
