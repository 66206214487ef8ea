// `ijepa aws start`: the input is validated first, the state machine is found, AWS errors become one actionable line.
import { ListStateMachinesCommand, SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { AwsCallError } from "../../../bin/aws/aws_errors.js";
import { executionName, startTrainingExecution } from "../../../bin/aws/start_execution.js";
import { ConfigError } from "../../../trainer/errors.js";

const sfnMock = mockClient(SFNClient);
afterEach(() => sfnMock.reset());

const ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:Ijepa-Training";
const at = new Date("2026-11-30T11:30:05.123Z");
const awsError = (name: string, message: string, status = 400) =>
  Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });

describe("startTrainingExecution", () => {
  it("starts an execution named after the run and returns its console link", async () => {
    sfnMock.on(StartExecutionCommand).resolves({
      executionArn: `${ARN.replace("stateMachine", "execution")}:fashion-mnist-fmnist-vit-tiny-20261130T113005Z`,
      startDate: at,
    });
    const input = { dataset: "fashion-mnist", epochs: 3 };
    const started = await startTrainingExecution({
      sfn: new SFNClient({ region: "eu-west-1" }),
      stateMachineArn: ARN,
      input,
      now: () => at,
    });
    expect(sfnMock.commandCalls(StartExecutionCommand)[0].args[0].input).toEqual({
      stateMachineArn: ARN,
      name: "fashion-mnist-fmnist-vit-tiny-20261130T113005Z",
      input: JSON.stringify(input),
    });
    expect(started.runId).toBe("fashion-mnist-fmnist-vit-tiny");
    expect(started.consoleUrl).toBe(
      `https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${started.executionArn}`,
    );
  });

  it("refuses a bad input before calling AWS", async () => {
    await expect(
      startTrainingExecution({
        sfn: new SFNClient({ region: "eu-west-1" }),
        stateMachineArn: ARN,
        input: { epoch: 3 },
      }),
    ).rejects.toThrow(ConfigError);
    expect(sfnMock.calls()).toHaveLength(0);
  });

  it("finds the deployed state machine by name across pages when no ARN is given", async () => {
    sfnMock
      .on(ListStateMachinesCommand, { nextToken: undefined })
      .resolves({
        stateMachines: [{ name: "Other", stateMachineArn: "arn:o", type: "STANDARD", creationDate: at }],
        nextToken: "p2",
      })
      .on(ListStateMachinesCommand, { nextToken: "p2" })
      .resolves({
        stateMachines: [{ name: "Ijepa-Training", stateMachineArn: ARN, type: "STANDARD", creationDate: at }],
      });
    sfnMock
      .on(StartExecutionCommand)
      .resolves({ executionArn: "arn:aws:states:eu-west-1:1:execution:x:y", startDate: at });
    await startTrainingExecution({ sfn: new SFNClient({ region: "eu-west-1" }), input: {} });
    expect(sfnMock.commandCalls(StartExecutionCommand)[0].args[0].input.stateMachineArn).toBe(ARN);
  });

  it("says to deploy (or set the region) when no state machine of that name exists", async () => {
    sfnMock.on(ListStateMachinesCommand).resolves({ stateMachines: [] });
    await expect(startTrainingExecution({ sfn: new SFNClient({ region: "eu-west-1" }), input: {} })).rejects.toThrow(
      /no state machine named Ijepa-Training[\s\S]*fix: deploy/,
    );
  });

  it("turns AWS errors into one line naming the call and the fix", async () => {
    const sfn = new SFNClient({ region: "eu-west-1" });
    const cases: Array<[Error, RegExp]> = [
      [
        awsError("StateMachineDoesNotExist", "State Machine Does Not Exist: 'arn:…'"),
        /StartExecution: State Machine Does Not Exist[\s\S]*fix: deploy the stack/,
      ],
      [
        awsError("AccessDeniedException", "not authorized to perform: states:StartExecution", 403),
        /StartExecution: access denied/,
      ],
      [
        awsError("CredentialsProviderError", "Could not load credentials from any providers"),
        /StartExecution: no AWS credentials found[\s\S]*aws configure/,
      ],
      [awsError("ExecutionLimitExceeded", "too many"), /StartExecution failed: ExecutionLimitExceeded: too many/],
    ];
    for (const [err, message] of cases) {
      sfnMock.reset();
      sfnMock.on(StartExecutionCommand).rejects(err);
      const attempt = startTrainingExecution({ sfn, stateMachineArn: ARN, input: {} });
      await expect(attempt).rejects.toThrow(AwsCallError);
      await expect(startTrainingExecution({ sfn, stateMachineArn: ARN, input: {} })).rejects.toThrow(message);
    }
  });
});

describe("executionName", () => {
  it("is the run id and a UTC second stamp, in the characters execution keys allow", () => {
    expect(executionName("my.run_1", at)).toBe("my-run_1-20261130T113005Z");
    expect(executionName("x".repeat(100), at).length).toBeLessThanOrEqual(80);
  });
});
