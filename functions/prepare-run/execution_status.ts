// Whether a Step Functions execution (named in a run lock) is still RUNNING, asked with DescribeExecution.
import type { DescribeExecutionCommandOutput } from "@aws-sdk/client-sfn";
import type { IsExecutionRunning } from "./handler.js";

/**
 * The holder's ARN is this execution's ARN with the name replaced: both run on the same state machine
 * (`arn:aws:states:<region>:<account>:execution:<state machine>:<name>`).
 */
export function siblingExecutionArn(ownExecutionId: string, holderName: string): string | undefined {
  const parts = ownExecutionId.split(":");
  if (parts.length !== 8 || parts[0] !== "arn" || parts[5] !== "execution") return undefined;
  return [...parts.slice(0, 7), holderName].join(":");
}

export function executionRunningOnAws(
  describe: (arn: string) => Promise<Pick<DescribeExecutionCommandOutput, "status">>,
  doesNotExist: abstract new (...args: never[]) => Error,
): IsExecutionRunning {
  return async (holderName, ownExecutionId) => {
    const arn = siblingExecutionArn(ownExecutionId, holderName);
    if (!arn) return undefined;
    try {
      return (await describe(arn)).status === "RUNNING";
    } catch (err) {
      if (err instanceof doesNotExist) return false;
      throw err;
    }
  };
}
