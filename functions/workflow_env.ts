// What the workflow's Lambdas share about their environment and the run lock's owner name.
import { ConfigError } from "../trainer/errors.js";
import type { HandlerDeps } from "./handler_deps.js";

/** The lock owner of a Step Functions execution: "execution:<name>". */
export function executionOwner(executionName: string): string {
  return `execution:${executionName}`;
}

/** DATASETS_ROOT / RUNS_ROOT: `s3://<bucket>` on AWS, a folder or an S3 endpoint's bucket locally. */
export function requireRoot(env: HandlerDeps["env"], name: "RUNS_ROOT" | "DATASETS_ROOT"): string {
  const value = env[name];
  if (!value)
    throw new ConfigError(
      `${name} is not set in this function's environment`,
      `set ${name}=s3://<bucket> (the stack does)`,
    );
  return value.replace(/\/+$/, "");
}
