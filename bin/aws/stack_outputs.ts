// Where the deployed stack is: its outputs from `npx cdk deploy --outputs-file cdk-outputs.json`, or flags/env.
import { existsSync, readFileSync } from "node:fs";
import { ConfigError } from "../../trainer/errors.js";

/** The stack output names (lib/ijepa_stack.ts OUTPUT) the terminal commands read. */
export const STACK_OUTPUT_KEYS = {
  stateMachineArn: "StateMachineArn",
  runsBucket: "RunsBucketName",
  jobQueueArn: "JobQueueArn",
} as const;
export const DEFAULT_OUTPUTS_FILE = "cdk-outputs.json";
export const STATE_MACHINE_NAME = "Ijepa-Training";

export interface DeployedStack {
  stateMachineArn?: string;
  runsBucket?: string;
}

/** Flags win, then IJEPA_STATE_MACHINE_ARN / IJEPA_RUNS_BUCKET, then the outputs file (when it exists). */
export function readDeployedStack(
  flags: { stateMachine?: string; outputs?: string },
  env: NodeJS.ProcessEnv,
  cwdFile = DEFAULT_OUTPUTS_FILE,
): DeployedStack {
  const file = flags.outputs ?? cwdFile;
  let fromFile: Record<string, string> = {};
  if (existsSync(file)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, "utf8"));
    } catch (err) {
      throw new ConfigError(
        `${file}: not valid JSON (${(err as Error).message})`,
        "re-create it with: npx cdk deploy --outputs-file cdk-outputs.json",
      );
    }
    // { "Ijepa": { "StateMachineArn": "...", ... } }: take the stack that has our outputs.
    const stacks = Object.values(
      parsed && typeof parsed === "object" ? (parsed as Record<string, Record<string, string>>) : {},
    );
    fromFile = stacks.find((s) => s && typeof s === "object" && STACK_OUTPUT_KEYS.stateMachineArn in s) ?? {};
  } else if (flags.outputs) {
    throw new ConfigError(
      `outputs file not found: ${flags.outputs}`,
      "write it with: npx cdk deploy --outputs-file cdk-outputs.json",
    );
  }
  return {
    stateMachineArn: flags.stateMachine ?? env.IJEPA_STATE_MACHINE_ARN ?? fromFile[STACK_OUTPUT_KEYS.stateMachineArn],
    runsBucket: env.IJEPA_RUNS_BUCKET ?? fromFile[STACK_OUTPUT_KEYS.runsBucket],
  };
}

/** "arn:aws:states:eu-west-1:123…:stateMachine:Ijepa-Training" → "eu-west-1". */
export function regionOfArn(arn: string): string | undefined {
  return /^arn:[\w-]+:[\w-]+:([a-z0-9-]+):/.exec(arn)?.[1];
}

/** The console page of an execution. */
export function executionConsoleUrl(executionArn: string): string {
  const region = regionOfArn(executionArn) ?? "us-east-1";
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}
