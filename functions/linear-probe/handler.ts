// The linear-probe Lambda's logic: validate the event, run the probe on the backend the environment names
// (wasm by default: no tfjs-node in Lambda), return pointers and scores.
import { z } from "zod";
import { initBackend } from "../../trainer/backend.js";
import { BASELINE_NAMES, runProbe } from "../../trainer/eval/probe.js";
import type { HandlerDeps } from "../handler_deps.js";
import { parseEvent } from "../parse_event.js";

export const probeEventSchema = z.object({
  /** Run URI (its latest checkpoint) or a checkpoint folder URI. */
  checkpoint: z.string().min(1),
  /** Labelled dataset (manifest URI, folder or name); default: the one the run trained on. */
  data: z.string().min(1).optional(),
  trainLimit: z.number().int().positive().optional(),
  /** Test images scored; absent or 0 = the whole test split (the workflow passes 0 for "all"). */
  testLimit: z.number().int().nonnegative().optional(),
  baselines: z.array(z.enum(BASELINE_NAMES)).optional(),
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

const EXAMPLE_EVENT = '{"checkpoint": "s3://bucket/runs/<id>"} (data, trainLimit, testLimit, baselines optional)';

/**
 * The handler. The probe opens the checkpoint and the dataset from their URIs itself, so `deps.openStore`
 * is not used yet; `deps.env.IJEPA_BACKEND` picks the backend.
 */
export function makeHandler(deps: HandlerDeps): (event: unknown) => Promise<ProbeHandlerResult> {
  return async (event) => {
    const probeEvent = parseEvent(probeEventSchema, event, "linear-probe", EXAMPLE_EVENT);
    await initBackend(deps.env.IJEPA_BACKEND ?? "wasm");
    const testLimit = probeEvent.testLimit === 0 ? undefined : probeEvent.testLimit;
    const report = await runProbe({ ...probeEvent, testLimit, log: (line) => console.log(line) });
    const baselines = Object.entries(report.baselines).map(([k, v]) => [
      k,
      { linearTop1: v.linearTop1, knnTop1: v.knnTop1 },
    ]);
    return {
      step: report.step,
      probeUri: report.writtenTo,
      linearTop1: report.encoder.linearTop1,
      knnTop1: report.encoder.knnTop1,
      baselines: Object.fromEntries(baselines),
      seconds: report.timingsMs.total / 1000,
      peakRssMb: report.peakRssMb,
    };
  };
}
