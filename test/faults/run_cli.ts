// Runs the `ijepa` CLI as a user would, recording what a hostile-input case checks: exit code, output, time, memory.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(__dirname, "../..");
const cli = path.join(root, "bin/ijepa.js");

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  seconds: number;
  /** Peak resident memory of the process (VmHWM, sampled every 25 ms until it exits). */
  peakRssBytes: number;
}

/** `ijepa <args>` in `cwd`, killed after `timeoutMs`. */
export function runCli(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CliRun> {
  const started = Date.now();
  const child = spawn(process.execPath, [cli, ...args], {
    cwd: options.cwd ?? root,
    env: { ...process.env, IJEPA_DEBUG: "", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  let peak = 0;
  const sample = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
    } catch {
      // exited between samples
    }
  };
  const timer = setInterval(sample, 25);
  const killer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
  return new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      clearInterval(timer);
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, seconds: (Date.now() - started) / 1000, peakRssBytes: peak });
    });
  });
}

/**
 * The error part of stderr: the lines from the first "error:" on. A good one is one line naming the
 * thing, optionally followed by one "  fix: …" line, and no stack trace.
 */
export function errorLines(stderr: string): string[] {
  const lines = stderr.split("\n").filter((l) => l.trim() !== "");
  const at = lines.findIndex((l) => l.startsWith("error: "));
  return at < 0 ? [] : lines.slice(at);
}
