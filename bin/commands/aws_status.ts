// `ijepa aws status`: the newest (or a given) execution, its Batch jobs (attempts, spot reclaims), the last probe.
import { BatchClient } from "@aws-sdk/client-batch";
import { SFNClient } from "@aws-sdk/client-sfn";
import { Command } from "commander";
import { describeTrainingStatus, formatTrainingStatus } from "../aws/execution_status.js";
import { readDeployedStack, regionOfArn } from "../aws/stack_outputs.js";
import { openStore } from "../../trainer/storage/open_store.js";

export function awsStatusCommand(): Command {
  return new Command("status")
    .description(
      "state of a training execution on AWS: its Batch jobs (attempts, spot reclaims, why one failed) and the last probe",
    )
    .option("--execution <arn>", "an execution ARN (default: the newest execution of the state machine)")
    .option("--state-machine <arn>", "the state machine (default: IJEPA_STATE_MACHINE_ARN or cdk-outputs.json)")
    .option("--outputs <file>", "outputs of npx cdk deploy --outputs-file (default: ./cdk-outputs.json)")
    .action(async (o) => {
      const stack = readDeployedStack({ stateMachine: o.stateMachine, outputs: o.outputs }, process.env);
      const region = regionOfArn(o.execution ?? stack.stateMachineArn ?? "");
      const config = region ? { region } : {};
      const status = await describeTrainingStatus({
        sfn: new SFNClient(config),
        batch: new BatchClient(config),
        executionArn: o.execution,
        stateMachineArn: stack.stateMachineArn,
        openStore,
      });
      for (const line of formatTrainingStatus(status)) console.log(line);
    });
}
