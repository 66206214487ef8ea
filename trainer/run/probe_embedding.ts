// probe/<step>.embedding.json: the probe's test images on their top two principal axes, trained and at random init.
import { z } from "zod";

/** One encoder's 2-D PCA of test-set embeddings (see trainer/eval/embedding_projection.ts). */
export const embeddingProjectionSchema = z.object({
  count: z.number().int().nonnegative(),
  dim: z.number().int().positive(),
  x: z.array(z.number()),
  y: z.array(z.number()),
  labels: z.array(z.number().int()),
  explainedVariance: z.tuple([z.number(), z.number()]),
});

export const probeEmbeddingSchema = z
  .object({
    step: z.number().int().nonnegative(),
    dataset: z.string(),
    /** Class names from the dataset's manifest, when it has them (index = label). */
    classNames: z.array(z.string()).optional(),
    trained: embeddingProjectionSchema,
    /** The same images through the run's step-0 encoder; absent when the random-init baseline was not probed. */
    randomInit: embeddingProjectionSchema.optional(),
  })
  .refine(
    (d) =>
      [d.trained, d.randomInit].every(
        (p) => !p || (p.x.length === p.count && p.y.length === p.count && p.labels.length === p.count),
      ),
    {
      message: "x, y and labels must each hold count values",
    },
  );

export type EmbeddingProjectionDocument = z.infer<typeof embeddingProjectionSchema>;
export type ProbeEmbeddingDocument = z.infer<typeof probeEmbeddingSchema>;
