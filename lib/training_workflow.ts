// The training workflow: the Lambdas (NodejsFunction, bundled by esbuild locally) and the Standard state machine
// that routes between them and the GPU trainer's Batch job. `npm start` executes this very definition locally
// (local/), so it keeps to what aws-local-stepfunctions runs: JSONPath only, every Task with TimeoutSeconds.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Aws, type CfnElement, Duration, Stack, Validations } from "aws-cdk-lib";
import type * as batch from "aws-cdk-lib/aws-batch";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as lambdaNodejs from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as sns from "aws-cdk-lib/aws-sns";
import { DATASETS_PREFIX } from "../trainer/run/dataset_layout.js";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import * as tasks from "aws-cdk-lib/aws-stepfunctions-tasks";
import { Construct } from "constructs";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export interface TrainingWorkflowProps {
  datasetsBucket: s3.IBucket;
  runsBucket: s3.IBucket;
  jobQueue: batch.IJobQueue;
  /** The GPU trainer (EcsJobDefinition); its command takes Ref:: config, data, out, epochs and untilEpoch. */
  jobDefinition: batch.IJobDefinition;
  alertsTopic: sns.ITopic;
  /**
   * Longest one TrainSegment may take, queueing and Batch's own retries included (default: context
   * `segmentTimeoutSeconds`, else 7 days); the job is terminated when it passes. At most 24 days.
   */
  segmentTimeout?: Duration;
}

/** Names of the states, as the console shows them and the tests and the local runner refer to them. */
export const STATE = {
  prepareRun: "PrepareRun",
  shardPlan: "ShardPlan",
  shardChunks: "ShardChunks",
  shardChunk: "ShardChunk",
  shardFinalize: "ShardFinalize",
  planSegment: "PlanSegment",
  nextStep: "NextStep",
  trainSegment: "TrainSegment",
  probe: "Probe",
  rotate: "Rotate",
  report: "Report",
  releaseLock: "ReleaseLock",
  succeeded: "Succeeded",
  releaseLockOnFailure: "ReleaseLockOnFailure",
  notify: "NotifyFailure",
  failed: "Failed",
} as const;

/** One Lambda of the workflow: its folder under functions/, the export it runs, and its size. */
interface FunctionSpec {
  folder: string;
  /** The export of functions/<folder>/index.ts (default "handler"). */
  handler?: string;
  memoryMb: number;
  timeout: Duration;
  description: string;
  /** Files the bundle needs beside index.mjs. */
  copy?: Array<"configs" | "wasm" | "sharp" | "vega">;
}

const FUNCTIONS = {
  prepareRun: {
    folder: "prepare-run",
    memoryMb: 512,
    timeout: Duration.seconds(60),
    description: "validate the execution input, resolve the preset, take the run lock",
    copy: ["configs"],
  },
  shardPlan: {
    folder: "shard-dataset",
    handler: "planHandler",
    memoryMb: 2048,
    timeout: Duration.minutes(15),
    description: "plan the dataset's shards (reuses a published manifest)",
    copy: ["sharp"],
  },
  shardChunk: {
    folder: "shard-dataset",
    handler: "workHandler",
    memoryMb: 2048,
    timeout: Duration.minutes(15),
    description: "write one shard of the plan",
    copy: ["sharp"],
  },
  shardFinalize: {
    folder: "shard-dataset",
    handler: "finalizeHandler",
    memoryMb: 1024,
    timeout: Duration.minutes(5),
    description: "publish the dataset's manifest",
    copy: ["sharp"],
  },
  planSegment: {
    folder: "plan-segment",
    memoryMb: 256,
    timeout: Duration.seconds(30),
    description: "decide the next step of a run: train, probe or done",
  },
  // README "The probe in Lambda": 341 s and 1,032 MB peak for a first probe of 10,000 + 10,000 images.
  probe: {
    folder: "linear-probe",
    memoryMb: 2048,
    timeout: Duration.minutes(15),
    description: "linear probe and kNN of the newest checkpoint",
    copy: ["wasm"],
  },
  rotate: {
    folder: "rotate-checkpoints",
    memoryMb: 256,
    timeout: Duration.minutes(2),
    description: "delete old checkpoints, keeping the last, the best and the latest",
  },
  report: {
    folder: "report",
    memoryMb: 1024,
    timeout: Duration.minutes(3),
    description: "redraw the run's report",
    // report.html inlines vega's browser build, which esbuild's bundle of the vega module does not include.
    copy: ["sharp", "vega"],
  },
  releaseLock: {
    folder: "release-lock",
    memoryMb: 256,
    timeout: Duration.seconds(30),
    description: "release the run lock; on failure, say what to notify",
  },
} satisfies Record<string, FunctionSpec>;

export type WorkflowFunctionName = keyof typeof FUNCTIONS;

/** A Task waits this much longer than its function may run, so Lambda's own timeout is what reports a hang. */
const TASK_MARGIN = Duration.seconds(30);

export class TrainingWorkflow extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly functions: Record<WorkflowFunctionName, lambdaNodejs.NodejsFunction>;

  constructor(scope: Construct, id: string, props: TrainingWorkflowProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const stateMachineName = `${stack.stackName}-Training`;
    const env = {
      DATASETS_ROOT: `s3://${props.datasetsBucket.bucketName}`,
      RUNS_ROOT: `s3://${props.runsBucket.bucketName}`,
    };
    const fns = Object.fromEntries(
      Object.entries(FUNCTIONS).map(([name, spec]) => [name, this.makeFunction(name, spec, env)]),
    ) as Record<WorkflowFunctionName, lambdaNodejs.NodejsFunction>;
    this.functions = fns;
    this.grantStorage(fns, props);
    fns.prepareRun.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["states:DescribeExecution"],
        resources: [`arn:${Aws.PARTITION}:states:${Aws.REGION}:${Aws.ACCOUNT_ID}:execution:${stateMachineName}:*`],
      }),
    );
    Validations.of(fns.prepareRun).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${stateMachineName}:*]`,
      reason: "PrepareRun asks whether the execution holding a run's lock still runs: any execution of this machine.",
    });

    // --- Failure path: every state's Catch leads here; the original error is the execution's error.
    const failed = new sfn.Fail(this, STATE.failed, {
      comment: "the error of the state that failed (its name and message)",
      errorPath: "$.error.Error",
      causePath: "$.error.Cause",
    });
    const notify = new tasks.SnsPublish(this, STATE.notify, {
      topic: props.alertsTopic,
      subject: "I-JEPA training failed",
      // Serialized by ReleaseLock: aws-local-stepfunctions' States.JsonToString drops the escapes of quotes.
      message: sfn.TaskInput.fromJsonPathAt("$.failure.message"),
      resultPath: sfn.JsonPath.DISCARD,
      taskTimeout: sfn.Timeout.duration(Duration.seconds(60)),
    });
    notify.addCatch(failed, { resultPath: "$.notifyError" }).next(failed);
    const releaseOnFailure = this.invoke(
      STATE.releaseLockOnFailure,
      fns.releaseLock,
      FUNCTIONS.releaseLock,
      {
        outcome: "failed",
        executionName: sfn.JsonPath.executionName,
        executionInput: sfn.JsonPath.objectAt("$$.Execution.Input"),
        state: sfn.JsonPath.objectAt("$"),
      },
      "$.failure",
    );
    releaseOnFailure.addCatch(failed, { resultPath: "$.releaseError" }).next(notify);
    const onError = <T extends { addCatch(handler: sfn.IChainable, props?: sfn.CatchProps): unknown }>(state: T): T => {
      state.addCatch(releaseOnFailure, { resultPath: "$.error" });
      return state;
    };

    // --- The run: prepare, shard, then segments until PlanSegment says done.
    const prepare = onError(
      this.invoke(
        STATE.prepareRun,
        fns.prepareRun,
        FUNCTIONS.prepareRun,
        {
          input: sfn.JsonPath.objectAt("$"),
          executionName: sfn.JsonPath.executionName,
          executionId: sfn.JsonPath.executionId,
        },
        "$",
      ),
    );
    const shardPlan = onError(
      this.invoke(STATE.shardPlan, fns.shardPlan, FUNCTIONS.shardPlan, "$.shard", "$.shardPlan", {
        chunkIndices: sfn.JsonPath.listAt("$.chunkIndices"),
      }),
    );
    const shardChunk = this.invoke(STATE.shardChunk, fns.shardChunk, FUNCTIONS.shardChunk, "$", sfn.JsonPath.DISCARD);
    const shardChunks = onError(
      new sfn.Map(this, STATE.shardChunks, {
        comment: "one shard per chunk of the plan (inline: a Distributed Map would not run locally)",
        itemsPath: "$.shardPlan.chunkIndices",
        itemSelector: {
          source: sfn.JsonPath.stringAt("$.shard.source"),
          format: sfn.JsonPath.stringAt("$.shard.format"),
          output: sfn.JsonPath.stringAt("$.shard.output"),
          name: sfn.JsonPath.stringAt("$.shard.name"),
          chunkIndex: sfn.JsonPath.numberAt("$$.Map.Item.Value"),
        },
        maxConcurrency: 8,
        resultPath: sfn.JsonPath.DISCARD,
      }),
    );
    shardChunks.itemProcessor(shardChunk);
    const shardFinalize = onError(
      this.invoke(STATE.shardFinalize, fns.shardFinalize, FUNCTIONS.shardFinalize, "$.shard", "$.dataset", {
        manifestUri: sfn.JsonPath.stringAt("$.manifestUri"),
        counts: sfn.JsonPath.objectAt("$.counts"),
      }),
    );

    const planSegment = onError(
      this.invoke(
        STATE.planSegment,
        fns.planSegment,
        FUNCTIONS.planSegment,
        {
          run: sfn.JsonPath.objectAt("$.run"),
          dataset: sfn.JsonPath.objectAt("$.dataset"),
          previous: sfn.JsonPath.objectAt("$.plan"),
        },
        "$.plan",
      ),
    );
    const trainSegment = onError(
      new BatchSubmitJobWithStateTimeout(
        this,
        STATE.trainSegment,
        {
          comment:
            "one segment of epochs on a GPU; Batch retries a spot reclaim and the trainer resumes (--auto-resume)",
          jobName: sfn.JsonPath.stringAt("$.plan.jobName"),
          jobQueueArn: props.jobQueue.jobQueueArn,
          jobDefinitionArn: props.jobDefinition.jobDefinitionArn,
          payload: sfn.TaskInput.fromJsonPathAt("$.plan.batchParameters"),
          containerOverrides: {
            environment: {
              IJEPA_MAX_STEPS: sfn.JsonPath.stringAt("$.plan.maxStepsEnv"),
              // The execution holds the run's lock; its trainer works under it rather than being refused by it.
              IJEPA_RUN_LOCK_OWNER: sfn.JsonPath.stringAt("$.run.lockOwner"),
            },
          },
          resultPath: sfn.JsonPath.DISCARD,
        },
        segmentTimeout(this, props.segmentTimeout),
      ),
    );
    const probe = onError(
      this.invoke(
        STATE.probe,
        fns.probe,
        FUNCTIONS.probe,
        {
          checkpoint: sfn.JsonPath.stringAt("$.run.runUri"),
          data: sfn.JsonPath.stringAt("$.dataset.manifestUri"),
          trainLimit: sfn.JsonPath.numberAt("$.run.probeTrainLimit"),
          testLimit: sfn.JsonPath.numberAt("$.run.probeTestLimit"),
        },
        "$.probe",
        {
          step: sfn.JsonPath.numberAt("$.step"),
          linearTop1: sfn.JsonPath.numberAt("$.linearTop1"),
          knnTop1: sfn.JsonPath.numberAt("$.knnTop1"),
          baselines: sfn.JsonPath.objectAt("$.baselines"),
        },
      ),
    );
    const rotate = onError(
      this.invoke(
        STATE.rotate,
        fns.rotate,
        FUNCTIONS.rotate,
        {
          run: sfn.JsonPath.stringAt("$.run.runUri"),
          keepLast: sfn.JsonPath.numberAt("$.run.keepLast"),
          keepBest: sfn.JsonPath.numberAt("$.run.keepBest"),
          keepEvery: sfn.JsonPath.numberAt("$.run.keepEvery"),
        },
        sfn.JsonPath.DISCARD,
      ),
    );
    const report = onError(
      this.invoke(
        STATE.report,
        fns.report,
        FUNCTIONS.report,
        {
          run: sfn.JsonPath.stringAt("$.run.runUri"),
        },
        "$.report",
      ),
    );
    const release = onError(
      this.invoke(
        STATE.releaseLock,
        fns.releaseLock,
        FUNCTIONS.releaseLock,
        {
          outcome: "succeeded",
          executionName: sfn.JsonPath.executionName,
          executionInput: sfn.JsonPath.objectAt("$$.Execution.Input"),
          state: sfn.JsonPath.objectAt("$"),
        },
        "$.released",
      ),
    );
    const succeeded = new sfn.Succeed(this, STATE.succeeded);

    const next = new sfn.Choice(this, STATE.nextStep, { comment: "PlanSegment decided; this only routes" })
      .when(sfn.Condition.stringEquals("$.plan.action", "train"), trainSegment)
      .when(sfn.Condition.stringEquals("$.plan.action", "probe"), probe)
      .when(sfn.Condition.stringEquals("$.plan.action", "done"), release);
    // An action this machine does not know is a bug in PlanSegment: fail loudly through the failure path.
    next.otherwise(
      new sfn.Pass(this, "UnknownAction", {
        parameters: {
          Error: "UnknownPlanAction",
          Cause: sfn.JsonPath.format("PlanSegment answered {}", sfn.JsonPath.stringAt("$.plan.action")),
        },
        resultPath: "$.error",
      }).next(releaseOnFailure),
    );
    trainSegment.next(planSegment);
    probe.next(rotate).next(report).next(planSegment);
    release.next(succeeded);

    const definition = prepare.next(shardPlan).next(shardChunks).next(shardFinalize).next(planSegment).next(next);

    const logGroup = new logs.LogGroup(this, "ExecutionLogs", { retention: logs.RetentionDays.THREE_MONTHS });
    this.stateMachine = new sfn.StateMachine(this, "StateMachine", {
      stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      queryLanguage: sfn.QueryLanguage.JSON_PATH,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      comment: "I-JEPA pretraining: prepare → shard → { plan → train → probe → rotate → report } → release",
      tracingEnabled: true,
      // ALL: every state transition in the log group (cdk-nag SF1); the data itself stays out of the logs.
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    this.acknowledgeStateMachineGrants(fns);
  }

  private invoke(
    id: string,
    fn: lambda.IFunction,
    spec: FunctionSpec,
    payload: Record<string, unknown> | string,
    resultPath: string,
    resultSelector?: Record<string, unknown>,
  ): tasks.LambdaInvoke {
    return new tasks.LambdaInvoke(this, id, {
      lambdaFunction: fn,
      // A whole sub-object as the event: InputPath (a Parameters of "$.x" would be a literal string).
      ...(typeof payload === "string" ? { inputPath: payload } : { payload: sfn.TaskInput.fromObject(payload) }),
      payloadResponseOnly: true,
      // "$" is ASL's default; written out, aws-local-stepfunctions 3.0.0 stores the result under a key named "$".
      resultPath: resultPath === "$" ? undefined : resultPath,
      resultSelector,
      taskTimeout: sfn.Timeout.duration(spec.timeout.plus(TASK_MARGIN)),
    });
  }

  private makeFunction(name: string, spec: FunctionSpec, env: Record<string, string>): lambdaNodejs.NodejsFunction {
    const id = name.charAt(0).toUpperCase() + name.slice(1);
    return new lambdaNodejs.NodejsFunction(this, `${id}Function`, {
      entry: path.join(repoRoot, "functions", spec.folder, "index.ts"),
      handler: spec.handler ?? "handler",
      projectRoot: repoRoot,
      depsLockFilePath: path.join(repoRoot, "package-lock.json"),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.X86_64,
      memorySize: spec.memoryMb,
      timeout: spec.timeout,
      description: spec.description,
      // The local runner finds each function's handler factory by these two (local/resolve_template.ts).
      environment: { ...env, IJEPA_FUNCTION: spec.folder, ...(spec.handler ? { IJEPA_HANDLER: spec.handler } : {}) },
      logGroup: new logs.LogGroup(this, `${id}Logs`, { retention: logs.RetentionDays.THREE_MONTHS }),
      bundling: {
        forceDockerBundling: false,
        format: lambdaNodejs.OutputFormat.ESM,
        target: "node22",
        mainFields: ["module", "main"],
        sourceMap: true,
        // tfjs-node is what Lambda must not carry (the wasm backend runs there); sharp is native and copied whole.
        externalModules: ["@tensorflow/tfjs-node", "@tensorflow/tfjs-node-gpu", "sharp"],
        banner: [
          "import { createRequire as __ijepaCreateRequire } from 'module';",
          "import { fileURLToPath as __ijepaFileUrlToPath } from 'url';",
          "import { dirname as __ijepaDirname } from 'path';",
          "const require = __ijepaCreateRequire(import.meta.url);",
          "const __filename = __ijepaFileUrlToPath(import.meta.url);",
          "const __dirname = __ijepaDirname(__filename);",
        ].join(" "),
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (_inputDir: string, outputDir: string) => copyCommands(spec.copy ?? [], outputDir),
        },
      },
    });
  }

  /**
   * Exact S3 actions per function (no `s3:*Object*` wildcards): runs read/written under the runs bucket, raw uploads
   * read anywhere in the datasets bucket, shards written under datasets/ only.
   */
  private grantStorage(fns: Record<WorkflowFunctionName, lambdaNodejs.NodejsFunction>, props: TrainingWorkflowProps) {
    const runs = props.runsBucket;
    const datasets = props.datasetsBucket;
    const allow = (fn: lambda.IFunction, actions: string[], resources: string[]) =>
      fn.addToRolePolicy(new iam.PolicyStatement({ actions, resources }));
    const read = ["s3:GetObject"];
    const write = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"];
    const ack = (fn: Construct, resource: string, reason: string) =>
      Validations.of(fn).acknowledge({ id: `AwsSolutions-IAM5[Resource::${resource}]`, reason });
    const runsObjects = `<${logicalIdOf(runs)}.Arn>/*`;
    const runsReason =
      "The runs bucket holds only runs; a run's objects are named by its runId and step, known only at run time.";
    for (const fn of [fns.prepareRun, fns.rotate, fns.report, fns.releaseLock, fns.probe, fns.planSegment]) {
      allow(fn, fn === fns.planSegment ? read : write, [runs.arnForObjects("*")]);
      allow(fn, ["s3:ListBucket"], [runs.bucketArn]);
      ack(fn, runsObjects, runsReason);
    }
    const anyUpload = `<${logicalIdOf(datasets)}.Arn>/*`;
    const shards = `<${logicalIdOf(datasets)}.Arn>/datasets/*`;
    for (const fn of [fns.shardPlan, fns.shardChunk, fns.shardFinalize]) {
      allow(fn, read, [datasets.arnForObjects("*")]);
      allow(fn, write, [datasets.arnForObjects(`${DATASETS_PREFIX}*`)]);
      allow(fn, ["s3:ListBucket"], [datasets.bucketArn]);
      ack(fn, anyUpload, "Raw datasets are uploaded anywhere in the datasets bucket; the execution input names where.");
      ack(fn, shards, "Shards of any dataset are written under datasets/<name>/, the name coming from the input.");
    }
    allow(fns.probe, read, [datasets.arnForObjects(`${DATASETS_PREFIX}*`)]);
    allow(fns.probe, ["s3:ListBucket"], [datasets.bucketArn]);
    ack(fns.probe, shards, "The probe reads the sharded dataset the run trained on, named by the execution input.");
    // A config given by URI (instead of a preset) is read from the datasets bucket.
    allow(fns.prepareRun, read, [datasets.arnForObjects("*")]);
    ack(fns.prepareRun, anyUpload, "A config YAML given by URI may be uploaded anywhere in the datasets bucket.");
    for (const fn of Object.values(fns)) {
      Validations.of(fn).acknowledge(
        {
          id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
          reason:
            "CloudWatch Logs for the function's own log group; the managed policy is what CDK attaches to every function.",
        },
        {
          id: "AwsSolutions-L1",
          reason:
            "Node.js 22 is the runtime the code is tested on (issue 9); the next is adopted by changing Runtime in one place.",
        },
      );
    }
  }

  /** Findings on what CDK's task constructs grant the state machine's role. */
  private acknowledgeStateMachineGrants(fns: Record<WorkflowFunctionName, lambdaNodejs.NodejsFunction>): void {
    const ids = Object.values(fns).map((fn) => ({
      id: `AwsSolutions-IAM5[Resource::<${logicalIdOf(fn)}.Arn>:*]`,
      reason: "LambdaInvoke grants the function and its versions (<arn>:*), so a published version can be invoked.",
    }));
    Validations.of(this.stateMachine).acknowledge(...ids, {
      id: "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:batch:<AWS::Region>:<AWS::AccountId>:job-definition/*]",
      reason: "BatchSubmitJob grants SubmitJob on job definitions by name: each deploy registers a new revision.",
    });
  }
}

/** The CloudFormation logical id cdk-nag prints in a finding (`<RunsBucket1234.Arn>`). */
function logicalIdOf(construct: Construct): string {
  return Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);
}

/** Context key (`-c segmentTimeoutSeconds=…`) for TrainSegment's timeout, when the props give none. */
export const SEGMENT_TIMEOUT_CONTEXT = "segmentTimeoutSeconds";
const DEFAULT_SEGMENT_TIMEOUT = Duration.days(7);
/** Node's timers (the local runner) cannot wait longer than 2^31-1 ms. */
const MAX_SEGMENT_TIMEOUT_SECONDS = 24 * 24 * 3600;

function segmentTimeout(scope: Construct, fromProps: Duration | undefined): Duration {
  const raw = fromProps?.toSeconds() ?? scope.node.tryGetContext(SEGMENT_TIMEOUT_CONTEXT);
  if (raw === undefined) return DEFAULT_SEGMENT_TIMEOUT;
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_SEGMENT_TIMEOUT_SECONDS) {
    throw new Error(
      `${SEGMENT_TIMEOUT_CONTEXT}: ${JSON.stringify(raw)} is not a whole number of seconds from 1 to ${MAX_SEGMENT_TIMEOUT_SECONDS} (24 days)`,
    );
  }
  return Duration.seconds(seconds);
}

/**
 * BatchSubmitJob with the state's own TimeoutSeconds. CDK turns `taskTimeout` into the job's attempt timeout
 * (Parameters.Timeout) and emits no TimeoutSeconds, so a job stuck in RUNNABLE would hold the execution forever
 * (and the local runner would time it out after its 60 s default). The job's attempt timeout stays the job
 * definition's.
 */
class BatchSubmitJobWithStateTimeout extends tasks.BatchSubmitJob {
  constructor(
    scope: Construct,
    id: string,
    props: tasks.BatchSubmitJobProps,
    private readonly stateTimeout: Duration,
  ) {
    super(scope, id, props);
  }

  override toStateJson(topLevelQueryLanguage?: sfn.QueryLanguage): object {
    return { ...super.toStateJson(topLevelQueryLanguage), TimeoutSeconds: this.stateTimeout.toSeconds() };
  }
}

/** Shell commands (run by CDK after esbuild, locally) that copy what a bundle reads from disk at run time. */
function copyCommands(copy: ReadonlyArray<"configs" | "wasm" | "sharp" | "vega">, outputDir: string): string[] {
  const q = (p: string) => `"${p}"`;
  const nm = path.join(repoRoot, "node_modules");
  const commands: string[] = [];
  if (copy.includes("configs"))
    commands.push(`cp -r ${q(path.join(repoRoot, "configs"))} ${q(path.join(outputDir, "configs"))}`);
  if (copy.includes("wasm"))
    commands.push(`cp ${q(path.join(nm, "@tensorflow/tfjs-backend-wasm/dist"))}/*.wasm ${q(outputDir)}/`);
  if (copy.includes("vega")) commands.push(`cp ${q(path.join(nm, "vega/build/vega.min.js"))} ${q(outputDir)}/`);
  if (copy.includes("sharp")) {
    // sharp loads its native binary (linux-x64, glibc) at run time: ship the package and its prebuilt parts.
    commands.push(`mkdir -p ${q(path.join(outputDir, "node_modules/@img"))}`);
    for (const pkg of ["sharp", "detect-libc", "semver"])
      commands.push(`cp -r ${q(path.join(nm, pkg))} ${q(path.join(outputDir, "node_modules", pkg))}`);
    commands.push(`cp -r ${q(path.join(nm, "@img"))}/. ${q(path.join(outputDir, "node_modules/@img"))}/`);
  }
  return commands;
}
