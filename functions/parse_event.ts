// How every Lambda reads its event: a zod schema, and on a mismatch one ConfigError that names each bad
// field and shows an event that works.
import type { z } from "zod";
import { ConfigError, describeZodIssues } from "../trainer/errors.js";

/**
 * The event as `schema` parses it. `lambda` names the function in the message ("invalid shard-dataset
 * event: output: …"); `example` is a working event, shown as the fix.
 */
export function parseEvent<S extends z.ZodType>(
  schema: S,
  event: unknown,
  lambda: string,
  example: string,
): z.output<S> {
  const parsed = schema.safeParse(event);
  if (parsed.success) return parsed.data;
  throw new ConfigError(`invalid ${lambda} event: ${describeZodIssues(parsed.error, "event")}`, `send ${example}`);
}
