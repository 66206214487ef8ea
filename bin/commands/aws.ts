// `ijepa aws …`: the deployed workflow from a terminal (start, status).
import { Command } from "commander";
import { awsStartCommand } from "./aws_start.js";
import { awsStatusCommand } from "./aws_status.js";

export function awsCommand(): Command {
  return new Command("aws")
    .description("start and watch training executions of the deployed stack (npx cdk deploy)")
    .addCommand(awsStartCommand())
    .addCommand(awsStatusCommand());
}
