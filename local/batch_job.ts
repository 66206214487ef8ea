// `batch:submitJob.sync`, locally: the job definition's container command run as a child process of this
// checkout's CLI (the container's ENTRYPOINT is `node /app/bin/ijepa.js`), attempt after attempt as the job
// definition's retry strategy says, judged the way Batch evaluates `evaluateOnExit`.
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { EvaluateOnExit, TemplateJobDefinition } from "./workflow_template.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Batch gives a container this long between SIGTERM and SIGKILL (spot reclaims, terminations, timeouts). */
export const KILL_GRACE_MS = 30_000;

/** What SubmitJob's Parameters carry, after the state's JSONPath was applied. */
export interface SubmitJobRequest {
  JobName: string;
  JobDefinition: string;
  JobQueue: string;
  Parameters?: Record<string, string>;
  ContainerOverrides?: { Environment?: Array<{ Name: string; Value: string }>; Command?: string[] };
}

/** How one attempt ended, in Batch's words. */
export interface AttemptOutcome {
  exitCode: number | null;
  /** The job attempt's status reason ("Host EC2 (instance …) terminated." on a spot reclaim). */
  statusReason: string;
  /** The container's reason (e.g. CannotPullContainerError: …); empty for an ordinary exit. */
  reason: string;
  /** TerminateJob stopped it: Batch does not retry a terminated job. */
  terminated?: boolean;
}

/** The first matching entry's action, "EXIT" when nothing matches... except Batch retries then: see below. */
export function evaluateOnExit(rules: readonly EvaluateOnExit[], outcome: AttemptOutcome): "RETRY" | "EXIT" {
  for (const rule of rules) {
    const matches =
      (rule.OnStatusReason === undefined || glob(rule.OnStatusReason, outcome.statusReason)) &&
      (rule.OnReason === undefined || glob(rule.OnReason, outcome.reason)) &&
      (rule.OnExitCode === undefined ||
        glob(rule.OnExitCode, outcome.exitCode === null ? "" : String(outcome.exitCode)));
    if (matches) return rule.Action.toUpperCase() === "RETRY" ? "RETRY" : "EXIT";
  }
  // Batch: "If none of the EvaluateOnExit conditions match, then the job is retried."
  return "RETRY";
}

/** Batch's patterns: exact, or a prefix ending in one `*` (a lone `*` matches anything, empty included). */
function glob(pattern: string, value: string): boolean {
  return pattern.endsWith("*") ? value.startsWith(pattern.slice(0, -1)) : value === pattern;
}

/** Substitutes whole-argument `Ref::name` tokens the way Batch does; an unknown name stays as written. */
export function substituteParameters(command: readonly string[], parameters: Record<string, string>): string[] {
  return command.map((arg) => {
    const m = /^Ref::(.+)$/.exec(arg);
    return m && parameters[m[1]] !== undefined ? parameters[m[1]] : arg;
  });
}

export interface LocalBatchOptions {
  /** Variables the local machine must not inherit from the GPU job definition, or must set differently. */
  localEnvironment?: Record<string, string | undefined>;
  /** Fault injection (tests): called with each started attempt; may kill it and say it was a host loss. */
  onAttemptStarted?: (attempt: RunningAttempt) => void;
  /** Where the trainer's output goes ("inherit": this terminal, with its progress bar). */
  stdio?: "inherit" | "pipe";
  /** Passed the child's output when stdio is "pipe". */
  onOutput?: (chunk: string) => void;
}

export interface RunningAttempt {
  attempt: number;
  child: ChildProcess;
  /** Marks the attempt's end as a lost host (a spot reclaim): Batch reports "Host EC2 … terminated". */
  markHostLost(): void;
}

/** A job that ended FAILED after its last attempt, as the `.sync` integration reports it (States.TaskFailed). */
export class BatchJobFailedError extends Error {
  constructor(job: Record<string, unknown>) {
    super(JSON.stringify(job));
    this.name = "States.TaskFailed";
  }
}

/** The local Batch: runs jobs of the template's job definitions; stop() terminates the running one. */
export class LocalBatch {
  private running: { child: ChildProcess; terminate: () => void; exited: Promise<void> } | undefined;

  constructor(
    private readonly jobDefinitions: ReadonlyMap<string, TemplateJobDefinition>,
    private readonly options: LocalBatchOptions = {},
  ) {}

  /** Forwards a signal to the running trainer (Ctrl-C: it checkpoints and exits 130). */
  signal(signal: NodeJS.Signals): boolean {
    return this.running?.child.kill(signal) ?? false;
  }

  /** Resolves once no trainer runs (a terminated one may still be writing its checkpoint). */
  async settled(): Promise<void> {
    while (this.running) await this.running.exited;
  }

  /** TerminateJob: SIGTERM, then SIGKILL after Batch's 30 s (a timed-out or stopped execution). */
  terminate(): void {
    this.running?.terminate();
  }

  async submitJobSync(request: SubmitJobRequest): Promise<Record<string, unknown>> {
    const definition = this.jobDefinitions.get(request.JobDefinition);
    if (!definition) throw new Error(`no job definition ${request.JobDefinition} in the template`);
    const command = substituteParameters(request.ContainerOverrides?.Command ?? definition.command, {
      ...request.Parameters,
    });
    const overrides = Object.fromEntries((request.ContainerOverrides?.Environment ?? []).map((e) => [e.Name, e.Value]));
    const attempts: Array<{ container: { exitCode: number | null; reason: string }; statusReason: string }> = [];
    const max = Math.max(1, definition.retryStrategy.attempts);
    for (let attempt = 1; attempt <= max; attempt++) {
      const env: Record<string, string | undefined> = {
        ...process.env,
        ...definition.environment,
        ...overrides,
        AWS_BATCH_JOB_ATTEMPT: String(attempt),
        AWS_BATCH_JOB_ID: `local-${request.JobName}`,
        ...this.options.localEnvironment,
      };
      for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
      const outcome = await this.runAttempt(command, env as NodeJS.ProcessEnv, attempt);
      attempts.push({
        container: { exitCode: outcome.exitCode, reason: outcome.reason },
        statusReason: outcome.statusReason,
      });
      if (outcome.exitCode === 0) return { JobName: request.JobName, Status: "SUCCEEDED", Attempts: attempts };
      if (
        outcome.terminated ||
        evaluateOnExit(definition.retryStrategy.evaluateOnExit, outcome) === "EXIT" ||
        attempt === max
      ) {
        throw new BatchJobFailedError({
          JobName: request.JobName,
          Status: "FAILED",
          StatusReason: outcome.statusReason,
          Attempts: attempts,
        });
      }
    }
    throw new Error("unreachable");
  }

  private runAttempt(command: string[], env: NodeJS.ProcessEnv, attempt: number): Promise<AttemptOutcome> {
    return new Promise((resolve, reject) => {
      const pipe = this.options.stdio === "pipe";
      // Its own process group: a Ctrl-C in the terminal reaches only the runner, which forwards it once.
      const child = spawn(process.execPath, [path.join(repoRoot, "bin/ijepa.js"), ...command], {
        cwd: process.cwd(),
        env,
        stdio: pipe ? ["ignore", "pipe", "pipe"] : "inherit",
        detached: true,
      });
      if (pipe) {
        child.stdout?.on("data", (d) => this.options.onOutput?.(String(d)));
        child.stderr?.on("data", (d) => this.options.onOutput?.(String(d)));
      }
      let hostLost = false;
      let terminated = false;
      let killTimer: NodeJS.Timeout | undefined;
      const killOnExit = () => child.kill("SIGKILL");
      process.on("exit", killOnExit);
      this.running = {
        child,
        exited: new Promise((done) => child.once("exit", () => done())),
        terminate: () => {
          terminated = true;
          child.kill("SIGTERM");
          killTimer = setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS);
          killTimer.unref();
        },
      };
      this.options.onAttemptStarted?.({ attempt, child, markHostLost: () => (hostLost = true) });
      child.on("error", reject);
      child.on("exit", (code, signal) => {
        clearTimeout(killTimer);
        process.off("exit", killOnExit);
        this.running = undefined;
        const statusReason = hostLost
          ? "Host EC2 (instance i-local) terminated."
          : terminated
            ? "Job terminated: the state timed out or the execution stopped"
            : `Essential container in task exited${signal ? ` (${signal})` : ""}`;
        resolve({
          exitCode: code ?? (signal ? 128 + (signal === "SIGKILL" ? 9 : 15) : null),
          statusReason,
          reason: "",
          terminated,
        });
      });
    });
  }
}
