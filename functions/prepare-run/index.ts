// Lambda entry point for PrepareRun: the handler with the deployed dependencies, and DescribeExecution to tell
// whether the execution holding a run's lock is still RUNNING (a finished one's lock may be taken over).
import { DescribeExecutionCommand, ExecutionDoesNotExist, SFNClient } from "@aws-sdk/client-sfn";
import { lambdaDeps } from "../handler_deps.js";
import { makeHandler } from "./handler.js";
import { executionRunningOnAws } from "./execution_status.js";

const sfn = new SFNClient({});

export const handler = makeHandler(lambdaDeps(), {
  isExecutionRunning: executionRunningOnAws(
    (arn) => sfn.send(new DescribeExecutionCommand({ executionArn: arn })),
    ExecutionDoesNotExist,
  ),
});
