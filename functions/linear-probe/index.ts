// The linear-probe Lambda: validates its event, runs the probe on the wasm backend (no tfjs-node in Lambda), returns pointers and scores.
import { z } from "zod";
import { initBackend } from "../../trainer/backend.js";
import { ConfigError, describeZodIssues } from "../../trainer/errors.js";
import { runProbe } from "../../trainer/eval/probe.js";

export const probeEventSchema = z.object({
  /** Run URI (its latest checkpoint) or a checkpoint folder URI. */
  checkpoint: z.string().min(1),
  /** Labelled dataset (manifest URI, folder or name); default: the one the run trained on. */
  data: z.string().min(1).optional(),
  trainLimit: z.number().int().positive().optional(),
  testLimit: z.number().int().positive().optional(),
  baselines: z.array(z.enum(["raw", "random"])).optional(),
});

export type ProbeEvent = z.infer<typeof probeEventSchema>;

export interface ProbeHandlerResult {
  step: number;
  probeUri: string | undefined;
  linearTop1: number;
  knnTop1: number;
  baselines: Record<string, { linearTop1: number; knnTop1: number }>;
  seconds: number;
  peakRssMb: number;
}

export async function handler(event: unknown): Promise<ProbeHandlerResult> {
  const parsed = probeEventSchema.safeParse(event);
  if (!parsed.success) {
    const problems = describeZodIssues(parsed.error, "event");
    throw new ConfigError(`invalid linear-probe event: ${problems}`, 'send {"checkpoint": "s3://bucket/runs/<id>"} (data, trainLimit, testLimit, baselines optional)');
  }
  await initBackend(process.env.IJEPA_BACKEND ?? "wasm");
  const report = await runProbe({ ...parsed.data, log: (line) => console.log(line) });
  return {
    step: report.step,
    probeUri: report.writtenTo,
    linearTop1: report.encoder.linearTop1,
    knnTop1: report.encoder.knnTop1,
    baselines: Object.fromEntries(Object.entries(report.baselines).map(([k, v]) => [k, { linearTop1: v.linearTop1, knnTop1: v.knnTop1 }])),
    seconds: report.timingsMs.total / 1000,
    peakRssMb: report.peakRssMb,
  };
}
