// Parsers for flag values shared by the commands: commander calls them, and a bad value is its usage error.
import { InvalidArgumentError } from "commander";

/** A non-negative integer flag, e.g. `--epochs 3`. */
export const int = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError(`${name} must be a non-negative integer, got "${value}"`);
  return n;
};

/** A comma-separated list of numbers, e.g. `--mean 0.5,0.5,0.5`. */
export const numbers = (name: string) => (value: string) => {
  const list = value.split(",").map(Number);
  if (list.some((n) => !Number.isFinite(n)))
    throw new InvalidArgumentError(`${name} takes comma-separated numbers, got "${value}"`);
  return list;
};
