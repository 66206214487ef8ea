// What a long-running CLI command writes to, and the terminal progress bar it draws there: one
// definition for `ijepa shard` and `ijepa pull` (training has its own, richer, TrainProgress).
import cliProgress from "cli-progress";

/** Where a command writes: its result to stdout, progress to stderr (a bar when that is a TTY). */
export interface CommandIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  /** Milliseconds between plain progress lines when stderr is not a TTY (default 10 s). */
  progressIntervalMs?: number;
}

export const processIo: CommandIo = { stdout: process.stdout, stderr: process.stderr };

/** Receives a job's progress events and shows them; `stop` ends the display (after success or failure). */
export interface ProgressReporter<P> {
  update(progress: P): void;
  stop(): void;
}

/**
 * A cli-progress bar on `io.stderr` that starts on the first update (when the total is first known)
 * and is only stopped if it was started. `format` names the payload's fields, e.g. "{file}".
 */
export function terminalBar<P>(
  io: CommandIo,
  format: string,
  read: (progress: P) => { value: number; total: number; payload: Record<string, string> },
): ProgressReporter<P> {
  const bar = new cliProgress.SingleBar(
    { stream: io.stderr as NodeJS.WritableStream, format, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(progress) {
      const { value, total, payload } = read(progress);
      if (!started) {
        bar.start(total, value, payload);
        started = true;
      } else bar.update(value, payload);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
