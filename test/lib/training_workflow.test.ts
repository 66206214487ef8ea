// The training workflow as synthesized: its states, transitions and timeouts, its Lambdas, and the rules that keep
// the definition runnable by the local runner (checked by walking the ASL).
process.env.CDK_VALIDATION = "false";
import { Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../bin/cdk_app.js";
import { SEGMENT_TIMEOUT_CONTEXT, STATE } from "../../lib/training_workflow.js";
import { checkAsl } from "../../local/asl_rules.js";
import { readWorkflowTemplate } from "../../local/workflow_template.js";

const NO_BUNDLING = {
  "aws:cdk:bundling-stacks": [],
  trainerImage: "123456789012.dkr.ecr.us-east-1.amazonaws.com/ijepa-trainer:v1",
};

type AslState = Record<string, unknown> & {
  Type: string;
  Next?: string;
  End?: boolean;
  Catch?: Array<{ Next: string; ErrorEquals: string[] }>;
};

describe("TrainingWorkflow", () => {
  const { stack } = buildApp(NO_BUNDLING);
  const template = Template.fromStack(stack);
  const workflow = readWorkflowTemplate(template.toJSON() as never);
  const asl = workflow.definition as { StartAt: string; States: Record<string, AslState> };
  const states = asl.States;

  it("runs prepare → shard plan → chunk Map → finalize → plan, and loops plan → train/probe → … → plan", () => {
    expect(asl.StartAt).toBe(STATE.prepareRun);
    expect(states[STATE.prepareRun].Next).toBe(STATE.shardPlan);
    expect(states[STATE.shardPlan].Next).toBe(STATE.shardChunks);
    expect(states[STATE.shardChunks].Next).toBe(STATE.shardFinalize);
    expect(states[STATE.shardFinalize].Next).toBe(STATE.planSegment);
    expect(states[STATE.planSegment].Next).toBe(STATE.nextStep);
    const choice = states[STATE.nextStep] as unknown as {
      Choices: Array<{ Variable: string; StringEquals: string; Next: string }>;
      Default: string;
    };
    expect(choice.Choices.map((c) => [c.Variable, c.StringEquals, c.Next])).toEqual([
      ["$.plan.action", "train", STATE.trainSegment],
      ["$.plan.action", "probe", STATE.probe],
      ["$.plan.action", "done", STATE.releaseLock],
    ]);
    expect(states[choice.Default].Next).toBe(STATE.releaseLockOnFailure);
    expect(states[STATE.trainSegment].Next).toBe(STATE.planSegment);
    expect([states[STATE.probe].Next, states[STATE.rotate].Next, states[STATE.report].Next]).toEqual([
      STATE.rotate,
      STATE.report,
      STATE.planSegment,
    ]);
    expect(states[STATE.releaseLock].Next).toBe(STATE.succeeded);
    expect(states[STATE.succeeded].Type).toBe("Succeed");
  });

  it("sends every failure through ReleaseLockOnFailure → NotifyFailure → Failed, which fails with the original error", () => {
    for (const [name, state] of Object.entries(states)) {
      if (!["Task", "Map"].includes(state.Type) || name === STATE.releaseLockOnFailure || name === STATE.notify)
        continue;
      expect(state.Catch, name).toEqual([
        { ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: STATE.releaseLockOnFailure },
      ]);
    }
    expect(states[STATE.releaseLockOnFailure].Next).toBe(STATE.notify);
    expect(states[STATE.releaseLockOnFailure].Catch?.[0].Next).toBe(STATE.failed);
    expect(states[STATE.notify].Next).toBe(STATE.failed);
    expect(states[STATE.notify].Resource).toMatch(/:states:::sns:publish$/);
    expect((states[STATE.notify].Parameters as Record<string, string>)["Message.$"]).toBe("$.failure.message");
    expect(states[STATE.failed]).toMatchObject({
      Type: "Fail",
      ErrorPath: "$.error.Error",
      CausePath: "$.error.Cause",
    });
  });

  it("gives every Task its own timeout: the functions' plus 30 s, and 7 days for a training segment", () => {
    const timeouts = Object.fromEntries(
      Object.entries(states)
        .filter(([, s]) => s.Type === "Task")
        .map(([n, s]) => [n, s.TimeoutSeconds]),
    );
    expect(timeouts).toEqual({
      [STATE.prepareRun]: 90,
      [STATE.shardPlan]: 930,
      [STATE.shardFinalize]: 330,
      [STATE.planSegment]: 60,
      [STATE.trainSegment]: 7 * 24 * 3600,
      [STATE.probe]: 930,
      [STATE.rotate]: 150,
      [STATE.report]: 210,
      [STATE.releaseLock]: 60,
      [STATE.releaseLockOnFailure]: 60,
      [STATE.notify]: 60,
    });
    const inner = (states[STATE.shardChunks] as unknown as { ItemProcessor: { States: Record<string, AslState> } })
      .ItemProcessor.States;
    expect(inner[STATE.shardChunk].TimeoutSeconds).toBe(930);
  });

  it("submits the trainer job with pointers only, under the execution's lock, leaving the attempt timeout to the job definition", () => {
    const train = states[STATE.trainSegment];
    expect(train.Resource).toMatch(/:states:::batch:submitJob\.sync$/);
    expect(train.Parameters).toMatchObject({
      "JobName.$": "$.plan.jobName",
      "Parameters.$": "$.plan.batchParameters",
      ContainerOverrides: {
        Environment: [
          { Name: "IJEPA_MAX_STEPS", "Value.$": "$.plan.maxStepsEnv" },
          // PrepareRun's lock owner: the trainer joins the execution's lock instead of being refused by it.
          { Name: "IJEPA_RUN_LOCK_OWNER", "Value.$": "$.run.lockOwner" },
        ],
      },
    });
    expect((train.Parameters as Record<string, unknown>).Timeout).toBeUndefined();
  });

  it("sizes the probe from the prepared run: its train and test limits", () => {
    expect(states[STATE.probe].Parameters).toMatchObject({
      "trainLimit.$": "$.run.probeTrainLimit",
      "testLimit.$": "$.run.probeTestLimit",
    });
  });

  it("passes the execution's name and id to PrepareRun from the context object", () => {
    expect(states[STATE.prepareRun].Parameters).toEqual({
      "input.$": "$",
      "executionName.$": "$$.Execution.Name",
      "executionId.$": "$$.Execution.Id",
    });
    expect(states[STATE.prepareRun].ResultPath).toBeUndefined();
  });

  it("runs each Lambda on Node.js 22 with the probe sized from the measured figures, and names its handler factory", () => {
    template.allResourcesProperties("AWS::Lambda::Function", {});
    const folders = [...workflow.functions.values()]
      .map((f) => `${f.folder}${f.handler ? `#${f.handler}` : ""}`)
      .sort();
    expect(folders).toEqual([
      "linear-probe",
      "plan-segment",
      "prepare-run",
      "release-lock",
      "report",
      "rotate-checkpoints",
      "shard-dataset#finalizeHandler",
      "shard-dataset#planHandler",
      "shard-dataset#workHandler",
    ]);
    template.hasResourceProperties("AWS::Lambda::Function", {
      Runtime: "nodejs22.x",
      MemorySize: 2048,
      Timeout: 900,
      Environment: { Variables: { IJEPA_FUNCTION: "linear-probe" } },
    });
    for (const f of workflow.functions.values()) {
      expect(f.environment.RUNS_ROOT, f.folder).toMatch(/^s3:\/\/local-bucket-/);
      expect(f.environment.DATASETS_ROOT, f.folder).toMatch(/^s3:\/\/local-bucket-/);
    }
  });

  it("grants the Lambdas exact S3 actions, never a wildcard action", () => {
    const policies = template.findResources("AWS::IAM::Policy");
    const actions = Object.entries(policies)
      .filter(([id]) => id.startsWith("Workflow"))
      .flatMap(([, p]) =>
        (
          p as { Properties: { PolicyDocument: { Statement: Array<{ Action: string | string[] }> } } }
        ).Properties.PolicyDocument.Statement.flatMap((st) => st.Action),
      );
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.filter((a) => a.includes("*"))).toEqual([]);
  });

  it("passes every rule of the local runner", () => {
    expect(checkAsl(asl)).toEqual([]);
  });

  it("takes TrainSegment's timeout from the context", () => {
    const { stack: short } = buildApp({ ...NO_BUNDLING, [SEGMENT_TIMEOUT_CONTEXT]: 120 });
    const wf = readWorkflowTemplate(Template.fromStack(short).toJSON() as never);
    expect((wf.definition as typeof asl).States[STATE.trainSegment].TimeoutSeconds).toBe(120);
    expect(() => buildApp({ ...NO_BUNDLING, [SEGMENT_TIMEOUT_CONTEXT]: 30 * 24 * 3600 }).app.synth()).toThrow(
      /24 days/,
    );
  });
});

describe("checkAsl", () => {
  const task = (extra: Record<string, unknown> = {}) => ({
    Type: "Task",
    Resource: "arn:aws:lambda:r:1:function:f",
    TimeoutSeconds: 10,
    Catch: [{ ErrorEquals: ["States.ALL"], Next: "F" }],
    End: true,
    ...extra,
  });
  const machine = (states: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    StartAt: Object.keys(states)[0],
    States: { ...states, F: { Type: "Fail" } },
    ...extra,
  });

  it("accepts a Task with a timeout and a Catch", () => {
    expect(checkAsl(machine({ A: task() }))).toEqual([]);
  });

  it("finds a Task without TimeoutSeconds, also inside a Map", () => {
    const { TimeoutSeconds: _, ...noTimeout } = task();
    expect(checkAsl(machine({ A: noTimeout })).map((p) => p.state)).toEqual(["A"]);
    const map = {
      Type: "Map",
      End: true,
      Catch: [{ ErrorEquals: ["States.ALL"], Next: "F" }],
      ItemProcessor: { StartAt: "I", States: { I: { ...noTimeout, Catch: undefined } } },
    };
    expect(checkAsl(machine({ M: map }))).toEqual([{ state: "I", problem: expect.stringMatching(/TimeoutSeconds/) }]);
  });

  it("finds a top-level Task or Map without a Catch", () => {
    expect(checkAsl(machine({ A: task({ Catch: undefined }) }))[0].problem).toMatch(/without a Catch/);
    expect(
      checkAsl(
        machine({
          M: { Type: "Map", End: true, ItemProcessor: { StartAt: "I", States: { I: task({ Catch: undefined }) } } },
        }),
      ),
    ).toEqual([{ state: "M", problem: expect.stringMatching(/Map without a Catch/) }]);
  });

  it('refuses JSONata, Assign, ItemReader, a Distributed Map, ResultPath "$" and States.JsonToString', () => {
    expect(checkAsl(machine({ A: task() }, { QueryLanguage: "JSONata" }))[0].problem).toMatch(/JSONata/);
    expect(checkAsl(machine({ A: task({ QueryLanguage: "JSONata" }) }))[0].problem).toMatch(/JSONata/);
    expect(checkAsl(machine({ A: task({ Arguments: {} }) }))[0].problem).toMatch(/JSONata/);
    expect(checkAsl(machine({ A: task({ Assign: { x: 1 } }) }))[0].problem).toMatch(/Assign/);
    expect(checkAsl(machine({ A: task({ ResultPath: "$" }) }))[0].problem).toMatch(/ResultPath/);
    expect(checkAsl(machine({ A: task({ Parameters: { "m.$": "States.JsonToString($.x)" } }) }))[0].problem).toMatch(
      /JsonToString/,
    );
    const distributed = {
      Type: "Map",
      End: true,
      Catch: [{ ErrorEquals: ["States.ALL"], Next: "F" }],
      ItemReader: { Resource: "arn:aws:states:::s3:listObjectsV2" },
      ItemProcessor: {
        ProcessorConfig: { Mode: "DISTRIBUTED" },
        StartAt: "I",
        States: { I: task({ Catch: undefined }) },
      },
    };
    expect(checkAsl(machine({ M: distributed })).map((p) => p.problem)).toEqual([
      expect.stringMatching(/ItemReader/),
      expect.stringMatching(/Distributed Map/),
    ]);
  });
});
