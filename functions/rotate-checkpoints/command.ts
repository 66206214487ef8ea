// `ijepa rotate`: the same rotation as the Lambda, run from a terminal, printing what it kept (and why) and deleted.
import type { ProbeMetric, RotationResult } from "../../trainer/checkpoint/rotation.js";
import { openStore as openRunStore } from "../../trainer/storage/open_store.js";
import { type OpenStore, makeHandler } from "./handler.js";

export interface RotateCommandOptions {
  run: string;
  keepLast: number;
  keepBest: number;
  keepEvery: number;
  metric?: ProbeMetric;
  dryRun?: boolean;
}

export interface RotateCommandIo {
  /** Defaults to trainer/storage/open_store.ts's openStore. */
  openStore?: OpenStore;
  /** Where the table goes; defaults to console.log. */
  print?: (line: string) => void;
}

/** Runs the rotation and prints one row per checkpoint; resolves to the same result the Lambda returns. */
export async function runRotateCommand(options: RotateCommandOptions, io: RotateCommandIo = {}): Promise<RotationResult> {
  const openStore = io.openStore ?? openRunStore;
  const print = io.print ?? ((line: string) => console.log(line));
  const result = await makeHandler(openStore)(options);
  for (const line of formatRotation(options.run, result)) print(line);
  return result;
}

/** The table: step, action, reasons; then a one-line summary. */
export function formatRotation(run: string, result: RotationResult): string[] {
  const deleteWord = result.dryRun ? "would delete" : "deleted";
  const rows = [
    ...result.kept.map((k) => ({ step: k.step, action: "keep", reasons: k.reasons.join("; ") })),
    ...result.deleted.map((step) => ({ step, action: deleteWord, reasons: "" })),
  ].sort((a, b) => a.step - b.step);
  const actionWidth = Math.max("action".length, ...rows.map((r) => r.action.length));
  const line = (step: string, action: string, reasons: string): string => `${step.padStart(10)}  ${action.padEnd(actionWidth)}  ${reasons}`.trimEnd();
  return [
    `checkpoints of ${run}${result.dryRun ? " (dry run: nothing deleted)" : ""}`,
    line("step", "action", "reasons"),
    ...rows.map((r) => line(String(r.step), r.action, r.reasons)),
    `${result.kept.length} kept, ${result.deleted.length} ${deleteWord}`,
  ];
}
