// A CommandIo that records what a command writes, as a terminal (isTTY) or as a log.
import type { CommandIo } from "../../bin/commands/command_io.js";

export function captureIo(isTTY: boolean): { io: CommandIo; stdout: () => string; stderr: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: {
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: (t: string) => err.push(t), isTTY },
      progressIntervalMs: 0,
    },
    stdout: () => out.join(""),
    stderr: () => err.join(""),
  };
}
