// What the system or the runtime throws (ENOSPC, ENOTDIR, RangeError, …) as one line naming the thing and the fix.
import { IjepaError } from "./errors.js";

/** An error from the system (file system, memory), explained: `code` is the errno code or error name. */
export class SystemError extends IjepaError {
  readonly code: string;
  constructor(code: string, message: string, hint: string) {
    super(message, hint);
    this.code = code;
  }
}

const FIXES: Record<string, (thing: string) => [string, string]> = {
  ENOENT: (p) => [`${p}: no such file or folder`, "check the path and its spelling"],
  ENOTDIR: (p) => [
    `${p}: part of this path is a file, not a folder`,
    "give a folder (or a new name) where a folder is expected, not a file",
  ],
  EISDIR: (p) => [`${p} is a folder where a file was expected`, "give the path of the file itself"],
  ENOSPC: (p) => [
    `no space left on the device while writing ${p}`,
    "free some space or choose another location; nothing half-written was published, so run the same command " +
      "again once there is room (train: with --resume)",
  ],
  EDQUOT: (p) => [
    `disk quota exceeded while writing ${p}`,
    "free some space or choose another location, then run the same command again",
  ],
  EROFS: (p) => [`${p} is on a read-only file system`, "choose a writable location"],
  EACCES: (p) => [`permission denied: ${p}`, "choose a location you may write to, or fix its permissions"],
  EPERM: (p) => [`operation not permitted: ${p}`, "choose a location you may write to, or fix its permissions"],
  EEXIST: (p) => [`${p} already exists`, "choose another name or location"],
  ENAMETOOLONG: (p) => [`path too long: ${p}`, "choose a shorter path"],
  ELOOP: (p) => [`too many symbolic links in ${p} (a link loop?)`, "fix the links or give the real path"],
  EMFILE: (p) => [`too many open files (at ${p})`, "raise the limit (ulimit -n) and run again"],
  ENOMEM: (p) => [`out of memory (at ${p})`, "use a smaller configuration or a machine with more memory"],
};

/**
 * The error a user should see: an IjepaError as it is; a system error (errno code) or a runtime error
 * (RangeError, TypeError …) as a SystemError naming the path or what failed.
 */
export function explainError(err: unknown): IjepaError {
  if (err instanceof IjepaError) return err;
  const e = err as NodeJS.ErrnoException | undefined;
  const code = typeof e?.code === "string" ? e.code : undefined;
  if (code && FIXES[code]) {
    const thing =
      e?.path ?? (e as { dest?: string } | undefined)?.dest ?? (e?.syscall ? `(${e.syscall})` : "(unknown path)");
    const [message, hint] = FIXES[code](thing);
    return new SystemError(code, message, hint);
  }
  if (code === "ERR_BUFFER_TOO_LARGE" || code === "ERR_STRING_TOO_LONG" || e instanceof RangeError) {
    return new SystemError(
      e?.name ?? "RangeError",
      `a size limit of the runtime was exceeded: ${firstLine(e?.message)}`,
      "the input asks for more than this machine can hold: check the sizes it declares; " +
        "IJEPA_DEBUG=1 shows where it happened",
    );
  }
  const name = e?.name ?? "Error";
  return new SystemError(
    name,
    `unexpected ${name}: ${firstLine(e?.message ?? String(err))}`,
    "this is a bug or an input we do not check yet: run again with IJEPA_DEBUG=1 for the stack trace and report it",
  );
}

/** What the CLI prints for an error: the message (and fix) only; the stack trace too when IJEPA_DEBUG=1. */
export function formatCliError(err: unknown, debug = process.env.IJEPA_DEBUG === "1"): string {
  const explained = explainError(err);
  const text = `error: ${explained.message}`;
  if (!debug) return text;
  return `${text}\n${(err as Error)?.stack ?? String(err)}`;
}

function firstLine(text: string | undefined): string {
  return (text ?? "").split("\n")[0].slice(0, 300);
}
