// The whole product in one stack, in the order data flows: storage → GPU compute → workflow → observability.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Aws, CfnOutput, Stack, Validations, type StackProps } from "aws-cdk-lib";
import { Platform } from "aws-cdk-lib/aws-ecr-assets";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";
import type { Construct } from "constructs";
import type { AppContext } from "./app_context.js";
import { GpuBatch, prebuiltTrainerImage } from "./gpu_batch.js";
import { AlertsTopic, Observability } from "./observability.js";
import { Storage } from "./storage.js";
import { TrainingWorkflow } from "./training_workflow.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export interface IjepaStackProps extends StackProps {
  settings: AppContext;
}

/** Names of the stack outputs that `ijepa aws start/status` read from `cdk-outputs.json`. */
export const OUTPUT = {
  stateMachineArn: "StateMachineArn",
  jobQueueArn: "JobQueueArn",
  datasetsBucket: "DatasetsBucketName",
  runsBucket: "RunsBucketName",
  alertsTopicArn: "AlertsTopicArn",
  trainerLogGroup: "TrainerLogGroupName",
  dashboardUrl: "DashboardUrl",
} as const;

export class IjepaStack extends Stack {
  readonly storage: Storage;
  readonly compute: GpuBatch;
  readonly workflow: TrainingWorkflow;
  readonly observability: Observability;

  constructor(scope: Construct, id: string, props: IjepaStackProps) {
    super(scope, id, props);
    const s = props.settings;

    this.storage = new Storage(this, "Storage", {
      retainData: s.retainData,
      noncurrentVersionDays: s.noncurrentVersionDays,
    });
    const alerts = new AlertsTopic(this, "Alerts", { email: s.alertEmail });

    this.compute = new GpuBatch(this, "Compute", {
      vpcMode: s.vpc,
      instanceTypes: s.instanceTypes,
      spot: s.spot,
      maxvCpus: s.maxvCpus,
      // Synth only stages the build context (the repository, filtered by .dockerignore); `cdk deploy` builds it.
      image: s.trainerImage
        ? prebuiltTrainerImage(this, s.trainerImage)
        : ecs.ContainerImage.fromAsset(repoRoot, { file: "trainer/Dockerfile", platform: Platform.LINUX_AMD64 }),
      datasetsBucket: this.storage.datasetsBucket,
      runsBucket: this.storage.runsBucket,
      flowLogsBucket: this.storage.accessLogsBucket,
      runnableTimeoutMinutes: s.runnableTimeoutMinutes,
      jobTimeoutHours: s.jobTimeoutHours,
    });

    this.workflow = new TrainingWorkflow(this, "Workflow", {
      datasetsBucket: this.storage.datasetsBucket,
      runsBucket: this.storage.runsBucket,
      jobQueue: this.compute.jobQueue,
      jobDefinition: this.compute.jobDefinition,
      alertsTopic: alerts.topic,
    });
    this.allowSyncJobControl();

    this.observability = new Observability(this, "Observability", {
      alertsTopic: alerts.topic,
      stateMachine: this.workflow.stateMachine,
      trainerLogGroup: this.compute.logGroup,
      noMetricsAlarmMinutes: s.noMetricsAlarmMinutes,
    });

    const out = (name: string, value: string, description: string) => new CfnOutput(this, name, { value, description });
    out(
      OUTPUT.stateMachineArn,
      this.workflow.stateMachine.stateMachineArn,
      "start a training execution here (console or ijepa aws start)",
    );
    out(OUTPUT.jobQueueArn, this.compute.jobQueue.jobQueueArn, "the GPU trainer's Batch job queue");
    out(
      OUTPUT.datasetsBucket,
      this.storage.datasetsBucket.bucketName,
      "raw uploads anywhere; sharded datasets under datasets/",
    );
    out(
      OUTPUT.runsBucket,
      this.storage.runsBucket.bucketName,
      "one folder per run: checkpoints, metrics, probes, report",
    );
    out(OUTPUT.alertsTopicArn, alerts.topic.topicArn, "subscribe for failure and stall notifications");
    out(OUTPUT.trainerLogGroup, this.compute.logGroup.logGroupName, "the trainer's log (and EMF metrics)");
    out(
      OUTPUT.dashboardUrl,
      `https://${Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards/dashboard/${this.observability.dashboard.dashboardName}`,
      "CloudWatch dashboard",
    );
  }

  /**
   * `batch:submitJob.sync` polls the job and terminates it when the execution stops or times out; CDK's task grants
   * neither. DescribeJobs has no resource-level permissions (IAM requires "*"); TerminateJob is scoped to jobs of
   * this account and region.
   */
  private allowSyncJobControl(): void {
    const { stateMachine } = this.workflow;
    stateMachine.addToRolePolicy(new iam.PolicyStatement({ actions: ["batch:DescribeJobs"], resources: ["*"] }));
    stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["batch:TerminateJob"],
        resources: [`arn:${Aws.PARTITION}:batch:${Aws.REGION}:${Aws.ACCOUNT_ID}:job/*`],
      }),
    );
    Validations.of(stateMachine).acknowledge(
      {
        id: "AwsSolutions-IAM5[Resource::*]",
        reason:
          "batch:DescribeJobs supports no resource-level permissions; the .sync integration polls the job with it.",
      },
      {
        id: "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:batch:<AWS::Region>:<AWS::AccountId>:job/*]",
        reason:
          "Job ARNs carry a random id known only after SubmitJob; TerminateJob stops the execution's own job on abort or timeout.",
      },
    );
  }
}
