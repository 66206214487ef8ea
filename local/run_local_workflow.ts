// Executes the synthesized state machine on this machine with aws-local-stepfunctions: Lambda tasks call the
// handler factories in-process, TrainSegment runs the trainer as a child process (local/batch_job.ts), Notify
// prints and appends to the run's notifications.jsonl. The event history is written to the run.
import "./promise_with_resolvers.js";
import { hostname } from "node:os";
import path from "node:path";
import type { OpenStore } from "../functions/handler_deps.js";
import { parseLocation, joinUri, openStore as openAnyStore } from "../trainer/storage/open_store.js";
import type { ObjectStore } from "../trainer/storage/object_store.js";
import { runIdOfRawInput } from "../trainer/run/execution_input.js";
import { NOTIFICATIONS_KEY, executionKey } from "../trainer/run/run_layout.js";
import { LocalBatch, type LocalBatchOptions, type SubmitJobRequest } from "./batch_job.js";
import { type Handler, loadHandler } from "./local_functions.js";
import { LOCAL_ACCOUNT, LOCAL_REGION, type WorkflowTemplate, placeholderBucket } from "./workflow_template.js";

/** Node's timers fire at once beyond 2^31-1 ms (24.8 days); longer Task timeouts are clamped to this. */
export const MAX_TIMER_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

export type ExecutionStatus = "SUCCEEDED" | "FAILED" | "ABORTED";

/** The record at `<run>/executions/<name>.json`: written RUNNING at start, with the event history at the end. */
export interface ExecutionRecord {
  executionName: string;
  executionArn: string;
  status: ExecutionStatus | "RUNNING";
  startedAt: string;
  stoppedAt?: string;
  host: string;
  pid: number;
  input: unknown;
  output?: unknown;
  error?: { Error: string; Cause: unknown };
  events?: unknown[];
}

export interface LocalExecutionOptions {
  template: WorkflowTemplate;
  input: unknown;
  /** Where both buckets live: a folder (runs at <root>/<runId>, datasets at <root>/datasets/<name>) or s3://b/p. */
  root: string;
  executionName?: string;
  openStore?: OpenStore;
  /** Each line of the execution's progress (states entered, retries, failures). */
  log?: (line: string) => void;
  batch?: LocalBatchOptions;
  now?: () => Date;
}

export interface LocalExecutionResult {
  executionName: string;
  status: ExecutionStatus;
  output: unknown;
  error: { Error: string; Cause: unknown } | undefined;
  /** The run's URI, when the input named one. */
  runUri: string | undefined;
  /** Where the event history was written. */
  historyUri: string | undefined;
  events: Array<{ type: string; [k: string]: unknown }>;
  /** True when interrupt() stopped it (Ctrl-C). */
  interrupted: boolean;
}

export interface LocalExecution {
  executionName: string;
  /** Ctrl-C: the trainer checkpoints and exits, the next task fails with Interrupted, the lock is released. */
  interrupt(): void;
  result: Promise<LocalExecutionResult>;
}

/** Thrown by any task after interrupt(), so the execution leaves through its Catch → ReleaseLock path. */
export class InterruptedByUserError extends Error {
  constructor() {
    super("stopped on request (Ctrl-C); the trainer wrote a checkpoint, and the same command again resumes");
    this.name = "Interrupted";
  }
}

export function startLocalExecution(options: LocalExecutionOptions): LocalExecution {
  const executionName = options.executionName ?? defaultExecutionName(options.now?.() ?? new Date());
  const log = options.log ?? (() => {});
  const now = options.now ?? (() => new Date());
  const openStore = options.openStore ?? openAnyStore;
  const root = normalizeRoot(options.root);
  let interrupted = false;
  const batch = new LocalBatch(options.template.jobDefinitions, options.batch);

  const result = (async (): Promise<LocalExecutionResult> => {
    const { StateMachine, ExecutionError } = await import("aws-local-stepfunctions");
    const definition = clampTaskTimeouts(structuredClone(options.template.definition) as unknown as AslMachine);
    const stateMachineName = "Ijepa-Training";
    const executionArn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:${stateMachineName}:${executionName}`;
    const runId = runIdOfRawInput(options.input);
    const runUri = runId ? joinUri(root, runId) : undefined;
    const startedAt = now();
    const record: ExecutionRecord = {
      executionName,
      executionArn,
      status: "RUNNING",
      startedAt: startedAt.toISOString(),
      host: hostname(),
      pid: process.pid,
      input: options.input,
    };
    const runStore = runUri ? await openStore(runUri) : undefined;
    if (runStore) await putJson(runStore, executionKey(executionName), record);

    const handlers = await buildTaskHandlers(definition, options.template, {
      root,
      openStore,
      now,
      log,
      batch,
      isInterrupted: () => interrupted,
    });
    const machine = new StateMachine(definition as never, { validationOptions: { checkArn: true, checkPaths: true } });
    const execution = machine.run(options.input as never, {
      overrides: { taskResourceLocalHandlers: handlers as never },
      context: {
        Execution: {
          Id: executionArn,
          Name: executionName,
          Input: options.input as never,
          StartTime: startedAt.toISOString(),
          RoleArn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/local`,
        },
        StateMachine: {
          Id: executionArn.replace(":execution:", ":stateMachine:").replace(/:[^:]+$/, ""),
          Name: stateMachineName,
        },
      },
    });
    const events: LocalExecutionResult["events"] = [];
    const logging = (async () => {
      for await (const event of execution.eventLogs) {
        events.push(event as never);
        const line = describeEvent(event as never, startedAt, now());
        if (line) log(line);
      }
    })();
    let output: unknown;
    let error: LocalExecutionResult["error"];
    let status: ExecutionStatus = "SUCCEEDED";
    try {
      output = await execution.result;
    } catch (err) {
      if (!(err instanceof ExecutionError)) throw err;
      status = "FAILED";
    }
    await logging;
    // A trainer terminated on a timeout may still be writing its checkpoint: let it finish before reporting.
    await batch.settled();
    const failed = events.find((e) => e.type === "ExecutionFailed") as { Error: string; Cause: unknown } | undefined;
    if (failed) error = { Error: failed.Error, Cause: failed.Cause };
    const finalRunUri = runUri ?? findRunUri(events);
    const store = runStore ?? (finalRunUri ? await openStore(finalRunUri) : undefined);
    const done: ExecutionRecord = { ...record, status, stoppedAt: now().toISOString(), output, error, events };
    if (store) await putJson(store, executionKey(executionName), done);
    return {
      executionName,
      status,
      output,
      error,
      runUri: finalRunUri,
      historyUri: store?.uriOf(executionKey(executionName)),
      events,
      interrupted,
    };
  })();

  return {
    executionName,
    interrupt: () => {
      interrupted = true;
      batch.signal("SIGINT");
    },
    result,
  };
}

/** Whether a local execution that holds a run's lock still runs: its record says RUNNING and its process lives. */
export async function isLocalExecutionRunning(
  holderName: string,
  _ownId: string,
  run: ObjectStore,
): Promise<boolean | undefined> {
  let key: string;
  try {
    key = executionKey(holderName);
  } catch {
    return undefined;
  }
  if (!(await run.head(key))) return undefined; // not one of ours (an AWS execution on the same bucket?): cannot tell
  const record = JSON.parse(new TextDecoder().decode(await run.get(key))) as Partial<ExecutionRecord>;
  if (record.status !== "RUNNING") return false;
  if (record.host !== hostname() || typeof record.pid !== "number") return undefined;
  try {
    process.kill(record.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM" ? true : false;
  }
}

interface AslState {
  Type: string;
  Resource?: string;
  TimeoutSeconds?: number;
  ItemProcessor?: AslMachine;
  Iterator?: AslMachine;
  Branches?: AslMachine[];
}
export interface AslMachine {
  States: Record<string, AslState>;
}

/** Every state of the machine, nested ones included (state names are unique across an ASL document). */
export function allStates(machine: AslMachine): Array<[string, AslState]> {
  return Object.entries(machine.States).flatMap(([name, state]) => [
    [name, state] as [string, AslState],
    ...[state.ItemProcessor, state.Iterator, ...(state.Branches ?? [])]
      .filter((m): m is AslMachine => !!m)
      .flatMap(allStates),
  ]);
}

/** Caps every Task's TimeoutSeconds at what Node's timers can wait (in place; returns the machine). */
export function clampTaskTimeouts<M extends AslMachine>(machine: M): M {
  for (const [, state] of allStates(machine)) {
    if (state.TimeoutSeconds !== undefined && state.TimeoutSeconds > MAX_TIMER_SECONDS)
      state.TimeoutSeconds = MAX_TIMER_SECONDS;
  }
  return machine;
}

interface TaskContext {
  root: string;
  openStore: OpenStore;
  now: () => Date;
  log: (line: string) => void;
  batch: LocalBatch;
  isInterrupted: () => boolean;
}

async function buildTaskHandlers(
  definition: AslMachine,
  template: WorkflowTemplate,
  ctx: TaskContext,
): Promise<Record<string, Handler>> {
  const handlers: Record<string, Handler> = {};
  for (const [name, state] of allStates(definition)) {
    if (state.Type !== "Task") continue;
    const resource = state.Resource ?? "";
    const timeoutMs = (state.TimeoutSeconds ?? 60) * 1000;
    let handler: Handler;
    let interruptible = true;
    if (resource.endsWith(":states:::batch:submitJob.sync")) {
      handler = async (input) => {
        // The state's timeout raises States.Timeout but cannot stop a handler: terminate the job as Step Functions
        // does, just after the runner's own timer (so the state fails with States.Timeout, not the job's exit).
        const timer = setTimeout(() => ctx.batch.terminate(), timeoutMs + 250);
        try {
          return await ctx.batch.submitJobSync(input as SubmitJobRequest);
        } catch (err) {
          if (ctx.isInterrupted()) throw new InterruptedByUserError();
          throw err;
        } finally {
          clearTimeout(timer);
        }
      };
    } else if (resource.endsWith(":states:::sns:publish")) {
      interruptible = false;
      handler = async (input) => publishLocally(input as { Message: string; Subject?: string }, ctx);
    } else {
      const fn = template.functions.get(resource);
      if (!fn)
        throw new Error(
          `state ${name} calls ${resource}, which is neither a function of the template nor a service the local runner provides`,
        );
      const env = Object.fromEntries(
        Object.entries(fn.environment).map(([k, v]) => [k, rewriteBucketRoots(v, template.buckets, ctx.root)]),
      );
      handler = await loadHandler(
        fn.folder,
        fn.handler,
        { openStore: ctx.openStore, env, now: ctx.now },
        { isExecutionRunning: isLocalExecutionRunning },
      );
      // ReleaseLock must run after an interrupt: it is how the lock is handed back.
      if (fn.folder === "release-lock") interruptible = false;
    }
    handlers[name] = async (input: unknown) => {
      if (interruptible && ctx.isInterrupted()) throw new InterruptedByUserError();
      // Lambda hands the function a copy of the event; so do we (the runner keeps the state's input).
      return (await handler(structuredClone(input))) as never;
    };
  }
  return handlers;
}

/** `sns:publish`, locally: the message on the terminal and in the run's notifications.jsonl. */
async function publishLocally(
  input: { Message: string; Subject?: string },
  ctx: TaskContext,
): Promise<{ MessageId: string }> {
  let message: Record<string, unknown>;
  try {
    message = JSON.parse(input.Message);
  } catch {
    message = { message: input.Message };
  }
  ctx.log(`notification${input.Subject ? ` (${input.Subject})` : ""}: ${input.Message}`);
  const runUri = typeof message.runUri === "string" ? message.runUri : undefined;
  if (runUri) {
    const store = await ctx.openStore(runUri);
    const existing = (await store.head(NOTIFICATIONS_KEY))
      ? new TextDecoder().decode(await store.get(NOTIFICATIONS_KEY))
      : "";
    await store.put(NOTIFICATIONS_KEY, `${existing}${JSON.stringify({ subject: input.Subject, ...message })}\n`, {
      contentType: "application/x-ndjson",
    });
  }
  return { MessageId: `local-${Date.now()}` };
}

/** `s3://<placeholder bucket>…` (a bucket's Ref) → the local root. */
function rewriteBucketRoots(value: string, buckets: readonly string[], root: string): string {
  for (const id of buckets) {
    const prefix = `s3://${placeholderBucket(id)}`;
    if (value === prefix) return root;
    if (value.startsWith(`${prefix}/`)) return joinUri(root, value.slice(prefix.length + 1));
  }
  return value;
}

function normalizeRoot(root: string): string {
  const location = parseLocation(root);
  return location.kind === "file" && !/^file:\/\//i.test(root) ? path.resolve(root) : root.replace(/\/+$/, "");
}

function findRunUri(events: LocalExecutionResult["events"]): string | undefined {
  for (const e of events) {
    const out = (e as { state?: { output?: { run?: { runUri?: string }; failure?: { runUri?: string } } } }).state
      ?.output;
    const uri = out?.run?.runUri ?? out?.failure?.runUri;
    if (uri) return uri;
  }
  return undefined;
}

async function putJson(store: ObjectStore, key: string, doc: unknown): Promise<void> {
  await store.put(key, `${JSON.stringify(doc, null, 2)}\n`, { contentType: "application/json" });
}

function defaultExecutionName(at: Date): string {
  const stamp = at.toISOString().replace(/[-:]/g, "").replace(/\..*$/, "");
  return `local-${stamp}-${Math.random().toString(36).slice(2, 6)}`;
}

function describeEvent(
  event: {
    type: string;
    state?: { name: string };
    index?: number;
    Error?: string;
    Cause?: unknown;
    retry?: { attempt: number };
  },
  startedAt: Date,
  at: Date,
): string | undefined {
  const elapsed = formatElapsed(at.getTime() - startedAt.getTime());
  const name = event.state?.name;
  const where = event.index !== undefined ? `${name}[${event.index}]` : name;
  switch (event.type) {
    case "StateEntered":
      return `[${elapsed}] ▶ ${where}`;
    case "StateFailed":
      return `[${elapsed}] ✗ ${where}: ${event.Error}: ${firstLine(event.Cause)}`;
    case "StateRetried":
      return `[${elapsed}] ↻ ${where} (retry ${event.retry?.attempt})`;
    case "StateCaught":
      return `[${elapsed}] ⤷ ${where}: caught, to the failure path`;
    case "ExecutionSucceeded":
      return `[${elapsed}] ✓ execution succeeded`;
    case "ExecutionFailed":
      return `[${elapsed}] ✗ execution failed: ${event.Error}: ${firstLine(event.Cause)}`;
    default:
      return undefined;
  }
}

function firstLine(cause: unknown): string {
  const text = typeof cause === "string" ? cause : JSON.stringify(cause);
  return (text ?? "").split("\n")[0];
}

export function formatElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const mmss = `${String(m).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
  return h > 0 ? `${h}:${mmss}` : mmss;
}
