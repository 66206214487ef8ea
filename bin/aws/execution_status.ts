// `ijepa aws status`: an execution's state, the Batch jobs it ran (attempts, spot reclaims, why one failed) and
// the run's last probe, gathered from Step Functions, Batch and the runs bucket.
import { DescribeJobsCommand, type BatchClient, type JobDetail } from "@aws-sdk/client-batch";
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  type HistoryEvent,
  type SFNClient,
} from "@aws-sdk/client-sfn";
import { PROBE_HISTORY_KEY } from "../../trainer/run/run_layout.js";
import type { ObjectStore } from "../../trainer/storage/object_store.js";
import type { ProbeHistoryRecord } from "../../trainer/run/probe_record.js";
import { AwsCallError, describeAwsError } from "./aws_errors.js";
import { explainBatchFailure } from "../../trainer/aws/batch_job_reasons.js";
import { executionConsoleUrl } from "./stack_outputs.js";

export interface StatusOptions {
  sfn: SFNClient;
  batch: BatchClient;
  /** A given execution, or the newest of `stateMachineArn`. */
  executionArn?: string;
  stateMachineArn?: string;
  /** Opens the run's store (s3://…) to read its probe history; omit to skip the probe. */
  openStore?: (uri: string) => ObjectStore;
}

export interface JobStatus {
  jobId: string;
  jobName: string;
  status: string;
  attempts: number;
  spotReclaims: number;
  statusReason?: string;
  /** For a failed job: what to do (quota, capacity, image, trainer error). */
  hint?: string;
}

export interface TrainingStatus {
  executionArn: string;
  name: string;
  status: string;
  startDate?: Date;
  stopDate?: Date;
  error?: string;
  cause?: string;
  runUri?: string;
  consoleUrl: string;
  jobs: JobStatus[];
  lastProbe?: ProbeHistoryRecord;
}

export async function describeTrainingStatus(o: StatusOptions): Promise<TrainingStatus> {
  const executionArn = o.executionArn ?? (await newestExecution(o.sfn, o.stateMachineArn));
  const execution = await call("DescribeExecution", () => o.sfn.send(new DescribeExecutionCommand({ executionArn })));
  const history = await executionHistory(o.sfn, executionArn);
  const { jobIds, runUri } = scanHistory(history);
  const jobs = jobIds.length ? await describeJobs(o.batch, jobIds) : [];
  const lastProbe = runUri && o.openStore ? await readLastProbe(o.openStore(runUri)) : undefined;
  return {
    executionArn,
    name: execution.name ?? executionArn.split(":").pop()!,
    status: execution.status ?? "UNKNOWN",
    startDate: execution.startDate,
    stopDate: execution.stopDate,
    error: execution.error,
    cause: execution.cause,
    runUri,
    consoleUrl: executionConsoleUrl(executionArn),
    jobs,
    lastProbe,
  };
}

async function call<T>(name: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw describeAwsError(err, name, "check the ARN and that AWS_REGION is the region you deployed to");
  }
}

async function newestExecution(sfn: SFNClient, stateMachineArn: string | undefined): Promise<string> {
  if (!stateMachineArn)
    throw new AwsCallError(
      "no execution or state machine given",
      "pass --execution <arn>, or deploy with --outputs-file cdk-outputs.json",
    );
  const page = await call("ListExecutions", () =>
    sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 1 })),
  );
  const newest = page.executions?.[0]?.executionArn;
  if (!newest)
    throw new AwsCallError(
      `no executions of ${stateMachineArn} yet`,
      "start one with: ijepa aws start --input input.json",
    );
  return newest;
}

async function executionHistory(sfn: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await call("GetExecutionHistory", () =>
      sfn.send(
        new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 1000, includeExecutionData: true }),
      ),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

/** Batch job ids from the `.sync` task events, and the run folder from the first state output naming it. */
export function scanHistory(events: HistoryEvent[]): { jobIds: string[]; runUri?: string } {
  const jobIds = new Set<string>();
  let runUri: string | undefined;
  for (const e of events) {
    const task = e.taskSubmittedEventDetails ?? e.taskSucceededEventDetails;
    if (task && task.resourceType === "batch") {
      const id = parse(task.output)?.JobId;
      if (typeof id === "string") jobIds.add(id);
    }
    const failed = e.taskFailedEventDetails;
    if (failed && failed.resourceType === "batch") {
      const id = parse(failed.cause)?.JobId;
      if (typeof id === "string") jobIds.add(id);
    }
    if (!runUri && e.stateExitedEventDetails?.output) {
      const run = parse(e.stateExitedEventDetails.output)?.run as { runUri?: unknown } | undefined;
      if (typeof run?.runUri === "string") runUri = run.runUri;
    }
  }
  return { jobIds: [...jobIds], runUri };
}

function parse(text: string | undefined): Record<string, unknown> | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text);
    return v && typeof v === "object" ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

async function describeJobs(batch: BatchClient, jobIds: string[]): Promise<JobStatus[]> {
  const out: JobStatus[] = [];
  for (let i = 0; i < jobIds.length; i += 100) {
    const page = await call("DescribeJobs", () =>
      batch.send(new DescribeJobsCommand({ jobs: jobIds.slice(i, i + 100) })),
    );
    out.push(...(page.jobs ?? []).map(jobStatus));
  }
  // Submission order, as the segments ran.
  return out.sort((a, b) => jobIds.indexOf(a.jobId) - jobIds.indexOf(b.jobId));
}

export function jobStatus(job: JobDetail): JobStatus {
  const attempts = job.attempts ?? [];
  const spotReclaims = attempts.filter((a) => /^Host EC2/i.test(a.statusReason ?? "")).length;
  const lastReason = job.statusReason ?? attempts.at(-1)?.statusReason ?? attempts.at(-1)?.container?.reason;
  return {
    jobId: job.jobId ?? "?",
    jobName: job.jobName ?? "?",
    status: job.status ?? "UNKNOWN",
    attempts: attempts.length,
    spotReclaims,
    statusReason: lastReason,
    hint: job.status === "FAILED" ? explainBatchFailure(lastReason).hint : undefined,
  };
}

async function readLastProbe(store: ObjectStore): Promise<ProbeHistoryRecord | undefined> {
  if (!(await store.head(PROBE_HISTORY_KEY))) return undefined;
  const lines = new TextDecoder()
    .decode(await store.get(PROBE_HISTORY_KEY))
    .trim()
    .split("\n")
    .filter(Boolean);
  const last = parse(lines.at(-1));
  return last as ProbeHistoryRecord | undefined;
}

/** The lines `ijepa aws status` prints. */
export function formatTrainingStatus(s: TrainingStatus): string[] {
  const pct = (x: number | undefined) => (x === undefined ? "—" : `${(100 * x).toFixed(1)}%`);
  const lines = [
    `execution ${s.name}: ${s.status}${s.startDate ? ` (started ${s.startDate.toISOString()}${s.stopDate ? `, stopped ${s.stopDate.toISOString()}` : ""})` : ""}`,
    `  console: ${s.consoleUrl}`,
  ];
  if (s.runUri) lines.push(`  run: ${s.runUri}`);
  if (s.error) lines.push(`  error: ${s.error}${s.cause ? `: ${s.cause.split("\n")[0].slice(0, 300)}` : ""}`);
  lines.push(s.jobs.length ? `  training jobs (${s.jobs.length}):` : "  training jobs: none yet");
  for (const j of s.jobs) {
    const reclaims = j.spotReclaims ? `, ${j.spotReclaims} spot reclaim${j.spotReclaims === 1 ? "" : "s"}` : "";
    lines.push(
      `    ${j.jobName} ${j.status}: ${j.attempts} attempt${j.attempts === 1 ? "" : "s"}${reclaims}${j.statusReason ? ` — ${j.statusReason}` : ""}`,
    );
    if (j.hint) lines.push(`      fix: ${j.hint}`);
  }
  const p = s.lastProbe;
  lines.push(
    p
      ? `  last probe (step ${p.step}): linear top-1 ${pct(p.linearTop1)}, kNN top-1 ${pct(p.knnTop1)}; raw pixels ${pct(p.baselines?.raw?.linearTop1)}, random init ${pct(p.baselines?.random?.linearTop1)}`
      : "  last probe: none yet",
  );
  return lines;
}
