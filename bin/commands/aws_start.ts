// `ijepa aws start --input input.json`: starts a training execution of the deployed workflow, prints its console link.
import { readFile } from "node:fs/promises";
import { SFNClient } from "@aws-sdk/client-sfn";
import { Command } from "commander";
import { ConfigError } from "../../trainer/errors.js";
import { readDeployedStack, regionOfArn } from "../aws/stack_outputs.js";
import { startTrainingExecution } from "../aws/start_execution.js";

export function awsStartCommand(): Command {
  return new Command("start")
    .description("start a training execution on AWS with the same JSON input as the Step Functions console")
    .requiredOption("--input <file>", "execution input JSON (fields: dataset, config, epochs, runId, …; see README)")
    .option(
      "--state-machine <arn>",
      "the state machine (default: IJEPA_STATE_MACHINE_ARN, cdk-outputs.json, or Ijepa-Training by name)",
    )
    .option("--outputs <file>", "outputs of npx cdk deploy --outputs-file (default: ./cdk-outputs.json)")
    .action(async (o) => {
      const input = await readInput(o.input);
      const stack = readDeployedStack({ stateMachine: o.stateMachine, outputs: o.outputs }, process.env);
      const region = stack.stateMachineArn ? regionOfArn(stack.stateMachineArn) : undefined;
      const started = await startTrainingExecution({
        sfn: new SFNClient(region ? { region } : {}),
        stateMachineArn: stack.stateMachineArn,
        input,
      });
      console.log(`started ${started.name} (run ${started.runId})`);
      console.log(`  ${started.consoleUrl}`);
      console.log(`  watch: ijepa aws status --execution ${started.executionArn}`);
    });
}

async function readInput(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new ConfigError(
      `input file not found: ${file}`,
      'write the input JSON to a file, e.g. {"dataset": "fashion-mnist", "config": "fmnist-vit-tiny"}',
    );
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid JSON (${(err as Error).message})`);
  }
}
