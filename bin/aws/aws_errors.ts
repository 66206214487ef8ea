// AWS SDK errors as one line the user can act on (credentials, region, permissions, what is missing).
import { IjepaError } from "../../trainer/errors.js";

/** An AWS call that failed for a reason the user must fix (the message names the call and the fix). */
export class AwsCallError extends IjepaError {}

/** Maps an SDK error from `call` (e.g. "StartExecution") to an AwsCallError; anything unknown keeps its message. */
export function describeAwsError(err: unknown, call: string, notFoundHint?: string): AwsCallError {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = e?.name ?? "Error";
  const message = (e?.message ?? String(err)).split("\n")[0];
  if (name === "CredentialsProviderError" || /Could not load credentials/i.test(message)) {
    return new AwsCallError(
      `${call}: no AWS credentials found`,
      "run `aws configure` or `aws sso login`, or set AWS_PROFILE / AWS_ACCESS_KEY_ID",
    );
  }
  if (/Region is missing/i.test(message)) {
    return new AwsCallError(
      `${call}: no AWS region configured`,
      "set AWS_REGION (the region you deployed to), or pass --state-machine with the ARN from cdk-outputs.json",
    );
  }
  if (name === "AccessDeniedException" || name === "AccessDenied" || e?.$metadata?.httpStatusCode === 403) {
    return new AwsCallError(
      `${call}: access denied (${message})`,
      "use credentials of the account you deployed to, with Step Functions and Batch read access",
    );
  }
  if (/DoesNotExist|NotFound|ResourceNotFound/.test(name)) {
    return new AwsCallError(`${call}: ${message}`, notFoundHint ?? "check the ARN and the region");
  }
  return new AwsCallError(`${call} failed: ${name}: ${message}`);
}
