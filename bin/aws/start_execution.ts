// `ijepa aws start`: validate the input with the workflow's own schema, find the state machine, start an execution.
import { ListStateMachinesCommand, StartExecutionCommand, type SFNClient } from "@aws-sdk/client-sfn";
import { defaultRunId, parseExecutionInput, type ExecutionInputJson } from "../../trainer/run/execution_input.js";
import { describeAwsError, AwsCallError } from "./aws_errors.js";
import { executionConsoleUrl, STATE_MACHINE_NAME } from "./stack_outputs.js";

export interface StartOptions {
  sfn: SFNClient;
  /** From --state-machine, IJEPA_STATE_MACHINE_ARN or cdk-outputs.json; else looked up by name. */
  stateMachineArn?: string;
  input: unknown;
  now?: () => Date;
}

export interface StartedExecution {
  executionArn: string;
  name: string;
  runId: string;
  consoleUrl: string;
}

/** The input is checked before any AWS call: a typo fails here, in one line, not minutes later in PrepareRun. */
export async function startTrainingExecution(o: StartOptions): Promise<StartedExecution> {
  const input = parseExecutionInput(o.input);
  const runId = defaultRunId(input);
  const stateMachineArn = o.stateMachineArn ?? (await findStateMachine(o.sfn));
  const name = executionName(runId, (o.now ?? (() => new Date()))());
  try {
    const out = await o.sfn.send(
      new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(o.input as ExecutionInputJson) }),
    );
    const executionArn = out.executionArn!;
    return { executionArn, name, runId, consoleUrl: executionConsoleUrl(executionArn) };
  } catch (err) {
    throw describeAwsError(
      err,
      "StartExecution",
      "deploy the stack (npx cdk deploy --outputs-file cdk-outputs.json) or pass --state-machine <arn> in the right region",
    );
  }
}

/** Execution names are unique per state machine for 90 days: the run id and the start time (UTC, seconds). */
export function executionName(runId: string, at: Date): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `${runId.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 63)}-${stamp}`;
}

/** The deployed state machine by its fixed name (lib/training_workflow.ts: `<stack>-Training`). */
export async function findStateMachine(sfn: SFNClient): Promise<string> {
  let nextToken: string | undefined;
  try {
    do {
      const page = await sfn.send(new ListStateMachinesCommand({ nextToken }));
      const hit = page.stateMachines?.find((m) => m.name === STATE_MACHINE_NAME);
      if (hit?.stateMachineArn) return hit.stateMachineArn;
      nextToken = page.nextToken;
    } while (nextToken);
  } catch (err) {
    throw describeAwsError(err, "ListStateMachines");
  }
  throw new AwsCallError(
    `no state machine named ${STATE_MACHINE_NAME} in this account and region`,
    "deploy with npx cdk deploy --outputs-file cdk-outputs.json, set AWS_REGION to the region you deployed to, or pass --state-machine <arn>",
  );
}
