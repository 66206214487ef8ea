// `npm start` / `ijepa start`: the deployed workflow, synthesized from lib/ and executed on this machine, with the
// same input JSON as the Step Functions console. Prints each state as it is entered and ends with the probe.
import { readFile } from "node:fs/promises";
import { IjepaError, ConfigError } from "../trainer/errors.js";
import type { ExecutionInputJson } from "../trainer/run/execution_input.js";
import { probeKey } from "../trainer/run/run_layout.js";
import { REPORT_HTML_KEY } from "../trainer/report/build_run_report.js";
import { readLatestPointer } from "../trainer/checkpoint/checkpoint_store.js";
import { openStore } from "../trainer/storage/open_store.js";
import { type LocalExecutionResult, formatElapsed, startLocalExecution } from "./run_local_workflow.js";
import { readWorkflowTemplate, synthesizeTemplate } from "./workflow_template.js";

export interface StartCommandOptions {
  /** A JSON file holding the execution input (as pasted into the console). */
  input?: string;
  /** Fields given as flags; they override the file's. */
  fields: Partial<ExecutionInputJson>;
  /** Where the buckets live locally: a folder (default ./runs) or s3://bucket/prefix. */
  root: string;
  executionName?: string;
}

/** Variables of the GPU job definition that do not apply on this machine. */
export const LOCAL_TRAINER_ENVIRONMENT: Record<string, string | undefined> = {
  // The container refuses to train without a visible GPU; here the trainer uses this machine's backend.
  IJEPA_REQUIRE_GPU: undefined,
  // CloudWatch embedded-metric lines are for the container's log group, not a terminal.
  IJEPA_EMF: undefined,
  CUDA_CACHE_PATH: undefined,
  CUDA_CACHE_MAXSIZE: undefined,
};

export class WorkflowFailedError extends IjepaError {}

/** Runs the workflow; resolves with the result, or throws (exit 1) on failure and InterruptedError-like on Ctrl-C. */
export async function runStartCommand(
  options: StartCommandOptions,
  print: (line: string) => void = (l) => console.log(l),
): Promise<LocalExecutionResult> {
  const input = { ...(options.input ? await readInputFile(options.input) : {}), ...definedOnly(options.fields) };
  const t0 = Date.now();
  print(`synthesizing the workflow from lib/ …`);
  const template = readWorkflowTemplate(synthesizeTemplate());
  print(`input: ${JSON.stringify(input)}  (root ${options.root}; synthesized in ${formatElapsed(Date.now() - t0)})`);
  const execution = startLocalExecution({
    template,
    input,
    root: options.root,
    executionName: options.executionName,
    log: print,
    batch: { localEnvironment: LOCAL_TRAINER_ENVIRONMENT, stdio: "inherit" },
  });
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    print("\nCtrl-C: the trainer writes a checkpoint, then the run lock is released (Ctrl-C again to quit at once)");
    execution.interrupt();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const result = await execution.result;
    if (result.historyUri) print(`event history: ${result.historyUri}`);
    if (result.status === "SUCCEEDED" && result.runUri) await printSummary(result.runUri, print);
    return result;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

async function readInputFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new ConfigError(
      `--input ${file}: cannot read the file`,
      "give the path of a JSON file such as the README's input example",
    );
  }
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed;
  } catch {
    // fall through
  }
  throw new ConfigError(
    `--input ${file}: not a JSON object`,
    "write the execution input as one JSON object, as in the console",
  );
}

function definedOnly(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}

async function printSummary(runUri: string, print: (line: string) => void): Promise<void> {
  const store = openStore(runUri);
  const latest = await readLatestPointer(store);
  if (!latest) return;
  const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
  if (await store.head(probeKey(latest.step))) {
    const probe = JSON.parse(new TextDecoder().decode(await store.get(probeKey(latest.step)))) as {
      encoder: { linearTop1: number; knnTop1: number };
      baselines: Record<string, { linearTop1: number; knnTop1: number }>;
    };
    print(
      `probe at step ${latest.step} (epoch ${latest.epoch}): linear top-1 ${pct(probe.encoder.linearTop1)}, kNN ${pct(probe.encoder.knnTop1)}`,
    );
    const names: Record<string, string> = { raw: "raw pixels", random: "random-init encoder" };
    for (const [name, b] of Object.entries(probe.baselines)) {
      print(`  vs ${names[name] ?? name}: linear ${pct(b.linearTop1)}, kNN ${pct(b.knnTop1)}`);
    }
  }
  print(`report: ${store.uriOf(REPORT_HTML_KEY)}`);
}
