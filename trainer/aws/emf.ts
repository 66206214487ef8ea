// CloudWatch Embedded Metric Format: the trainer's metric lines on stdout, which CloudWatch Logs turns into metrics.
// The names here are the ones the dashboard and alarms (lib/observability.ts) read.

export const METRICS_NAMESPACE = "Ijepa";

/** Metric names, one per concept. Step metrics every logging.log_every steps; epoch metrics at each epoch end. */
export const METRIC = {
  loss: "Loss",
  imagesPerSecond: "ImagesPerSecond",
  learningRate: "LearningRate",
  targetStd: "CollapseTargetStd",
  effectiveRank: "EffectiveRank",
  /** 1 per minute while a trainer process is alive (a timer), so "alive but no steps" can be told from "no job". */
  heartbeat: "TrainerHeartbeat",
  /** Probe top-1 of the encoder and of its baselines (written by whatever runs the probe). */
  probeLinearTop1: "ProbeLinearTop1",
  probeRawTop1: "ProbeRawPixelsTop1",
  probeRandomTop1: "ProbeRandomInitTop1",
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];

const UNITS: Partial<Record<MetricName, string>> = { ImagesPerSecond: "Count/Second", TrainerHeartbeat: "Count" };

/**
 * One EMF log line: the values, published both per run (dimension RunId) and without dimensions, so alarms and
 * dashboard lines work for whichever run is active without knowing its id. Non-finite values are dropped
 * (CloudWatch rejects the whole line otherwise).
 */
export function emfLine(
  runId: string,
  values: Partial<Record<MetricName, number>>,
  timeMs = Date.now(),
): string | undefined {
  const finite = Object.entries(values).filter(([, v]) => typeof v === "number" && Number.isFinite(v)) as Array<
    [MetricName, number]
  >;
  if (finite.length === 0) return undefined;
  const doc: Record<string, unknown> = {
    _aws: {
      Timestamp: timeMs,
      CloudWatchMetrics: [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: [["RunId"], []],
          Metrics: finite.map(([name]) => ({ Name: name, Unit: UNITS[name] ?? "None" })),
        },
      ],
    },
    RunId: runId,
  };
  for (const [name, value] of finite) doc[name] = value;
  return JSON.stringify(doc);
}

/** The run id a metric line carries: the run's folder name (`s3://runs/fmnist-tiny` → `fmnist-tiny`). */
export function runIdOf(outUri: string): string {
  const last = outUri
    .replace(/[/\\]+$/, "")
    .split(/[/\\]/)
    .pop();
  return last && last !== "" ? last.slice(0, 250) : "run";
}
