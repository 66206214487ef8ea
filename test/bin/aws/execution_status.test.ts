// `ijepa aws status`: the execution, its Batch jobs (attempts, spot reclaims, failures explained), the last probe.
import { BatchClient, DescribeJobsCommand } from "@aws-sdk/client-batch";
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
  type HistoryEvent,
} from "@aws-sdk/client-sfn";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { describeTrainingStatus, formatTrainingStatus, jobStatus } from "../../../bin/aws/execution_status.js";
import { LocalObjectStore } from "../../../trainer/storage/local_store.js";

const sfnMock = mockClient(SFNClient);
const batchMock = mockClient(BatchClient);
afterEach(() => {
  sfnMock.reset();
  batchMock.reset();
});

const SM = "arn:aws:states:eu-west-1:123456789012:stateMachine:Ijepa-Training";
const EX = "arn:aws:states:eu-west-1:123456789012:execution:Ijepa-Training:run-1-20261130T113005Z";
const clients = () => ({
  sfn: new SFNClient({ region: "eu-west-1" }),
  batch: new BatchClient({ region: "eu-west-1" }),
});

function history(): HistoryEvent[] {
  return [
    { id: 1, type: "ExecutionStarted", timestamp: new Date() },
    {
      id: 2,
      type: "TaskStateExited",
      timestamp: new Date(),
      stateExitedEventDetails: { name: "PrepareRun", output: JSON.stringify({ run: { runUri: "RUN_URI" } }) },
    },
    {
      id: 3,
      type: "TaskSubmitted",
      timestamp: new Date(),
      taskSubmittedEventDetails: {
        resourceType: "batch",
        resource: "submitJob.sync",
        output: JSON.stringify({ JobId: "job-1" }),
      },
    },
    {
      id: 4,
      type: "TaskSucceeded",
      timestamp: new Date(),
      taskSucceededEventDetails: {
        resourceType: "batch",
        resource: "submitJob.sync",
        output: JSON.stringify({ JobId: "job-1" }),
      },
    },
    {
      id: 5,
      type: "TaskSubmitted",
      timestamp: new Date(),
      taskSubmittedEventDetails: {
        resourceType: "batch",
        resource: "submitJob.sync",
        output: JSON.stringify({ JobId: "job-2" }),
      },
    },
    {
      id: 6,
      type: "TaskFailed",
      timestamp: new Date(),
      taskFailedEventDetails: {
        resourceType: "batch",
        resource: "submitJob.sync",
        error: "States.TaskFailed",
        cause: JSON.stringify({ JobId: "job-2" }),
      },
    },
  ] as HistoryEvent[];
}

describe("describeTrainingStatus", () => {
  it("reports the newest execution, each segment's attempts and spot reclaims, why one failed, and the last probe", async () => {
    const run = mkdtempSync(path.join(tmpdir(), "ijepa-status-"));
    const store = new LocalObjectStore(run);
    await store.put(
      "probe/history.jsonl",
      [
        JSON.stringify({ step: 100, time: "", dataset: "d", linearTop1: 0.5, knnTop1: 0.4 }),
        JSON.stringify({
          step: 200,
          time: "",
          dataset: "d",
          linearTop1: 0.71,
          knnTop1: 0.65,
          baselines: { raw: { linearTop1: 0.62, knnTop1: 0.6 }, random: { linearTop1: 0.55, knnTop1: 0.5 } },
        }),
      ].join("\n"),
    );
    sfnMock.on(ListExecutionsCommand).resolves({
      executions: [{ executionArn: EX, stateMachineArn: SM, name: "run-1", status: "FAILED", startDate: new Date() }],
    });
    sfnMock.on(DescribeExecutionCommand, { executionArn: EX }).resolves({
      executionArn: EX,
      stateMachineArn: SM,
      name: "run-1-20261130T113005Z",
      status: "FAILED",
      startDate: new Date("2026-11-30T11:30:05Z"),
      error: "TrainingFailed",
      cause: "segment 2",
    });
    sfnMock
      .on(GetExecutionHistoryCommand)
      .resolves({ events: history().map((e) => JSON.parse(JSON.stringify(e).replace("RUN_URI", run))) });
    batchMock.on(DescribeJobsCommand).resolves({
      jobs: [
        {
          jobId: "job-2",
          jobName: "run-1-seg-2",
          status: "FAILED",
          statusReason: "Canceled by JobStateTimeLimit action: CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
          attempts: [],
          jobQueue: "q",
          jobDefinition: "d",
          startedAt: 0,
        },
        {
          jobId: "job-1",
          jobName: "run-1-seg-1",
          status: "SUCCEEDED",
          jobQueue: "q",
          jobDefinition: "d",
          startedAt: 0,
          attempts: [
            { statusReason: "Host EC2 (instance i-1) terminated." },
            { statusReason: "Host EC2 (instance i-2) terminated." },
            { statusReason: "Essential container in task exited" },
          ],
        },
      ],
    });

    const status = await describeTrainingStatus({
      ...clients(),
      stateMachineArn: SM,
      openStore: (uri) => (uri === run ? store : new LocalObjectStore("/nonexistent")),
    });
    expect(batchMock.commandCalls(DescribeJobsCommand)[0].args[0].input).toEqual({ jobs: ["job-1", "job-2"] });
    expect(status.jobs.map((j) => [j.jobName, j.status, j.attempts, j.spotReclaims])).toEqual([
      ["run-1-seg-1", "SUCCEEDED", 3, 2],
      ["run-1-seg-2", "FAILED", 0, 0],
    ]);
    expect(status.jobs[1].hint).toMatch(/request a G instance quota/);
    expect(status.lastProbe?.step).toBe(200);

    const text = formatTrainingStatus(status).join("\n");
    expect(text).toContain("execution run-1-20261130T113005Z: FAILED");
    expect(text).toContain("run-1-seg-1 SUCCEEDED: 3 attempts, 2 spot reclaims");
    expect(text).toMatch(/fix: no GPU instance could start: request a G instance quota/);
    expect(text).toContain(
      "last probe (step 200): linear top-1 71.0%, kNN top-1 65.0%; raw pixels 62.0%, random init 55.0%",
    );
  });

  it("says there is nothing to show yet instead of failing, for a fresh state machine", async () => {
    sfnMock.on(ListExecutionsCommand).resolves({ executions: [] });
    await expect(describeTrainingStatus({ ...clients(), stateMachineArn: SM })).rejects.toThrow(
      /no executions of .* yet[\s\S]*ijepa aws start/,
    );
  });

  it("names the call and the fix when the execution does not exist or access is denied", async () => {
    sfnMock
      .on(DescribeExecutionCommand)
      .rejects(Object.assign(new Error("Execution Does Not Exist: 'x'"), { name: "ExecutionDoesNotExist" }));
    await expect(describeTrainingStatus({ ...clients(), executionArn: EX })).rejects.toThrow(
      /DescribeExecution: Execution Does Not Exist[\s\S]*AWS_REGION/,
    );
    sfnMock.reset();
    sfnMock
      .on(DescribeExecutionCommand)
      .resolves({ executionArn: EX, stateMachineArn: SM, status: "RUNNING", startDate: new Date() });
    sfnMock.on(GetExecutionHistoryCommand).resolves({ events: history() });
    batchMock.on(DescribeJobsCommand).rejects(
      Object.assign(new Error("not authorized"), {
        name: "AccessDeniedException",
        $metadata: { httpStatusCode: 403 },
      }),
    );
    await expect(describeTrainingStatus({ ...clients(), executionArn: EX })).rejects.toThrow(
      /DescribeJobs: access denied/,
    );
  });

  it("needs an execution or a state machine", async () => {
    await expect(describeTrainingStatus(clients())).rejects.toThrow(/no execution or state machine given/);
  });
});

describe("jobStatus", () => {
  it("explains a failed attempt's reason when the job has no status reason of its own", () => {
    const j = jobStatus({
      jobId: "j",
      jobName: "n",
      status: "FAILED",
      jobQueue: "q",
      jobDefinition: "d",
      startedAt: 0,
      attempts: [{ statusReason: "CannotPullContainerError: pull access denied" }],
    });
    expect(j.hint).toMatch(/trainer image could not be pulled/);
  });
});
