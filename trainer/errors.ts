// Error classes a user can act on: each names the thing that is wrong (key, URI, file, step) and the fix.
import type { z } from "zod";

/** Base class: `message` says what is wrong, `hint` says what to do about it. */
export class IjepaError extends Error {
  readonly hint: string | undefined;
  constructor(message: string, hint?: string) {
    super(hint ? `${message}\n  fix: ${hint}` : message);
    this.name = new.target.name;
    this.hint = hint;
  }
}

/** A config file or execution input that does not match its schema. */
export class ConfigError extends IjepaError {}

/** An object, file or dataset that is not where it was asked for. */
export class NotFoundError extends IjepaError {
  readonly uri: string;
  constructor(uri: string, hint?: string) {
    super(`not found: ${uri}`, hint);
    this.uri = uri;
  }
}

/** Stored bytes that fail a checksum, a length check or a format check. */
export class CorruptDataError extends IjepaError {
  readonly uri: string;
  constructor(uri: string, what: string, hint?: string) {
    super(`corrupt: ${uri}: ${what}`, hint);
    this.uri = uri;
  }
}

/** Input data that cannot be used as given (wrong shape, wrong format, empty). */
export class DataError extends IjepaError {}

/** A command would overwrite what it did not write (a user's files, another run, later history); `--force` may. */
export class WouldOverwriteError extends IjepaError {}

/** Training produced a non-finite loss; the last good checkpoint is left as it was. */
export class NonFiniteLossError extends IjepaError {
  readonly step: number;
  constructor(step: number, loss: number) {
    super(
      `loss became ${loss} at step ${step}; training stopped and the last good checkpoint is untouched`,
      "lower optimization.lr (or raise optimization.warmup), then resume with --resume",
    );
    this.step = step;
  }
}

/** A schema's problems on one line, each led by the field it is about: "chunkIndex: Too small …; keepLast: …". */
export function describeZodIssues(error: z.ZodError, whole = "(the document itself)"): string {
  return error.issues
    .map((issue) => {
      const field = issue.path.length > 0 ? issue.path.map(String).join(".") : whole;
      const keys = issue.code === "unrecognized_keys" ? ` (${issue.keys.join(", ")})` : "";
      return `${field}: ${issue.message}${keys}`;
    })
    .join("; ");
}
