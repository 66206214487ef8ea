// The GPU trainer on AWS Batch: network, GPU instances (ECS AL2023 NVIDIA AMI), a job queue that gives up on
// missing capacity, and the job definition whose command is `ijepa train … --auto-resume`.
import { Aws, CfnElement, Duration, RemovalPolicy, Size, Stack, Validations } from "aws-cdk-lib";
import * as batch from "aws-cdk-lib/aws-batch";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecr from "aws-cdk-lib/aws-ecr";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as iam from "aws-cdk-lib/aws-iam";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import type { VpcMode } from "./app_context.js";
import { DATASETS_PREFIX } from "./storage.js";

export interface GpuBatchProps {
  vpcMode: VpcMode;
  /** e.g. ["g5.xlarge", "g6.xlarge"]: Batch picks among them by price and capacity. */
  instanceTypes: string[];
  spot: boolean;
  maxvCpus: number;
  /** The trainer image: built from trainer/Dockerfile, or a prebuilt one (see `trainerImage`). */
  image: ecs.ContainerImage;
  datasetsBucket: s3.IBucket;
  runsBucket: s3.IBucket;
  /** Receives the VPC's rejected-traffic flow logs. */
  flowLogsBucket: s3.IBucket;
  runnableTimeoutMinutes: number;
  jobTimeoutHours: number;
}

/** The trainer's command: Batch substitutes whole-argument `Ref::` tokens from SubmitJob's Parameters. */
export const TRAIN_COMMAND = [
  "train",
  "--config",
  "Ref::config",
  "--data",
  "Ref::data",
  "--out",
  "Ref::out",
  "--epochs",
  "Ref::epochs",
  "--until-epoch",
  "Ref::untilEpoch",
  "--auto-resume",
];

/** Host folder for CUDA's JIT cache: PTX compiled once per instance (30+ min on H100-class GPUs) is reused. */
export const CUDA_CACHE_HOST_PATH = "/var/cache/ijepa-cuda";

/**
 * vCPU and memory of one trainer: fits the 4 vCPU / 16 GiB of g5.xlarge and g6.xlarge after what the ECS agent
 * and the OS keep (ECS registers roughly 15.4 GiB of the 16 on these sizes); larger sizes fit it too.
 */
export const TRAINER_VCPUS = 4;
export const TRAINER_MEMORY_MIB = 15_000;

/**
 * Why a RUNNABLE job is cancelled: Batch's own blocking reasons. A new account's G-instance vCPU quota is 0,
 * which Batch reports as insufficient capacity — the message users see says to request a quota
 * (trainer/aws/batch_job_reasons.ts explains the cancelled job's status reason).
 */
const RUNNABLE_LIMITS = [
  batch.JobStateTimeLimitActionsReason.INSUFFICIENT_INSTANCE_CAPACITY,
  batch.JobStateTimeLimitActionsReason.COMPUTE_ENVIRONMENT_MAX_RESOURCE,
  batch.JobStateTimeLimitActionsReason.JOB_RESOURCE_REQUIREMENT,
];

export class GpuBatch extends Construct {
  readonly vpc: ec2.Vpc;
  readonly computeEnvironment: batch.ManagedEc2EcsComputeEnvironment;
  readonly jobQueue: batch.JobQueue;
  readonly jobDefinition: batch.EcsJobDefinition;
  readonly jobRole: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: GpuBatchProps) {
    super(scope, id);

    // Network: no inbound rules anywhere; S3 traffic (datasets, checkpoints) through a free gateway endpoint.
    this.vpc = new ec2.Vpc(this, "Vpc", vpcLayout(props.vpcMode));
    this.vpc.addGatewayEndpoint("S3", { service: ec2.GatewayVpcEndpointAwsService.S3 });
    this.vpc.addFlowLog("Rejected", {
      trafficType: ec2.FlowLogTrafficType.REJECT,
      destination: ec2.FlowLogDestination.toS3(props.flowLogsBucket, "vpc-flow-logs/"),
    });
    const subnets = {
      subnetType:
        props.vpcMode === "public"
          ? ec2.SubnetType.PUBLIC
          : props.vpcMode === "nat"
            ? ec2.SubnetType.PRIVATE_WITH_EGRESS
            : ec2.SubnetType.PRIVATE_ISOLATED,
    };
    const securityGroup = new ec2.SecurityGroup(this, "Instances", {
      vpc: this.vpc,
      description: "GPU trainer instances: no inbound rules; outbound to S3, ECR, ECS and CloudWatch",
      allowAllOutbound: true,
    });
    if (props.vpcMode === "endpoints") {
      // HTTPS from the instances only (not the whole VPC CIDR).
      const endpoints = new ec2.SecurityGroup(this, "Endpoints", {
        vpc: this.vpc,
        description: "Interface endpoints: HTTPS from the GPU instances",
        allowAllOutbound: false,
      });
      endpoints.addIngressRule(securityGroup, ec2.Port.tcp(443), "GPU instances");
      for (const [name, service] of Object.entries(INTERFACE_ENDPOINTS)) {
        this.vpc.addInterfaceEndpoint(name, { service, securityGroups: [endpoints], open: false, subnets });
      }
    }

    // GPU instances: the AMI type is explicit (Batch blocks new AL2 environments from June 2026).
    this.computeEnvironment = new batch.ManagedEc2EcsComputeEnvironment(this, "Gpu", {
      vpc: this.vpc,
      vpcSubnets: subnets,
      securityGroups: [securityGroup],
      images: [{ imageType: batch.EcsMachineImageType.ECS_AL2023_NVIDIA }],
      instanceTypes: props.instanceTypes.map((t) => new ec2.InstanceType(t)),
      useOptimalInstanceClasses: false,
      spot: props.spot,
      allocationStrategy: props.spot
        ? batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED
        : batch.AllocationStrategy.BEST_FIT_PROGRESSIVE,
      minvCpus: 0,
      maxvCpus: props.maxvCpus,
      launchTemplate: this.instanceLaunchTemplate(),
      updateToLatestImageVersion: true,
    });
    Validations.of(this.computeEnvironment).acknowledge({
      id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role]",
      reason:
        "The instance role of ECS container instances: the ECS agent registers, pulls and reports with exactly this " +
        "AWS-maintained policy, which tracks the agent's needs across versions. Jobs run under their own job role.",
    });

    this.jobQueue = new batch.JobQueue(this, "Queue", {
      computeEnvironments: [{ computeEnvironment: this.computeEnvironment, order: 1 }],
      jobStateTimeLimitActions: RUNNABLE_LIMITS.map((reason) => ({
        state: batch.JobStateTimeLimitActionsState.RUNNABLE,
        action: batch.JobStateTimeLimitActionsAction.CANCEL,
        reason,
        // Capacity can come back (spot); a misconfiguration never fixes itself.
        maxTime: Duration.minutes(
          reason === batch.JobStateTimeLimitActionsReason.INSUFFICIENT_INSTANCE_CAPACITY
            ? props.runnableTimeoutMinutes
            : 10,
        ),
      })),
    });

    // The trainer: reads sharded datasets, writes its run; nothing else.
    this.jobRole = new iam.Role(this, "TrainerRole", {
      assumedBy: new iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
      description: "ijepa trainer job: read datasets/*, read and write runs",
    });
    this.jobRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ["s3:GetObject"],
        resources: [props.datasetsBucket.arnForObjects(`${DATASETS_PREFIX}*`)],
      }),
    );
    this.jobRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ["s3:ListBucket"],
        resources: [props.datasetsBucket.bucketArn],
        conditions: { StringLike: { "s3:prefix": [`${DATASETS_PREFIX}*`] } },
      }),
    );
    this.jobRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
        resources: [props.runsBucket.arnForObjects("*")],
      }),
    );
    this.jobRole.addToPolicy(
      new iam.PolicyStatement({ actions: ["s3:ListBucket"], resources: [props.runsBucket.bucketArn] }),
    );
    Validations.of(this.jobRole).acknowledge(
      {
        id: `AwsSolutions-IAM5[Resource::<${logicalIdOf(props.datasetsBucket)}.Arn>/${DATASETS_PREFIX}*]`,
        reason: "The trainer reads any sharded dataset under datasets/: which one is chosen per execution.",
      },
      {
        id: `AwsSolutions-IAM5[Resource::<${logicalIdOf(props.runsBucket)}.Arn>/*]`,
        reason:
          "The runs bucket holds only runs; the trainer writes under the run each execution gives it (<runId>/...), chosen at start time.",
      },
    );

    this.logGroup = new logs.LogGroup(this, "TrainerLogs", {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const container = new batch.EcsEc2ContainerDefinition(this, "TrainerContainer", {
      image: props.image,
      gpu: 1,
      cpu: TRAINER_VCPUS,
      memory: Size.mebibytes(TRAINER_MEMORY_MIB),
      command: TRAIN_COMMAND,
      jobRole: this.jobRole,
      environment: {
        // The trainer refuses to run on CPU in this job (trainer/train/gpu_guard.ts).
        IJEPA_REQUIRE_GPU: "1",
        CUDA_CACHE_PATH: CUDA_CACHE_HOST_PATH,
        CUDA_CACHE_MAXSIZE: String(4 * 1024 ** 3),
        // Log lines without a progress bar; EMF metric lines on stdout (CloudWatch extracts them).
        IJEPA_EMF: "1",
      },
      volumes: [
        batch.EcsVolume.host({
          name: "cuda-cache",
          hostPath: CUDA_CACHE_HOST_PATH,
          containerPath: CUDA_CACHE_HOST_PATH,
        }),
      ],
      linuxParameters: new batch.LinuxParameters(this, "Linux", {
        // Forwards Batch's SIGTERM (spot reclaim, TerminateJob) to node and reaps its children.
        initProcessEnabled: true,
        sharedMemorySize: Size.gibibytes(2),
      }),
      logging: ecs.LogDriver.awsLogs({ streamPrefix: "trainer", logGroup: this.logGroup }),
    });
    Validations.of(container.executionRole).acknowledge({
      id: "AwsSolutions-IAM5[Resource::*]",
      reason:
        "ecr:GetAuthorizationToken (to pull the trainer image) has no resource-level permissions; the pull itself is scoped to the repository.",
    });

    this.jobDefinition = new batch.EcsJobDefinition(this, "Trainer", {
      container,
      timeout: Duration.hours(props.jobTimeoutHours),
      retryAttempts: 5,
      retryStrategies: [
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.SPOT_INSTANCE_RECLAIMED),
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.CANNOT_PULL_CONTAINER),
        // Without this, Batch retries every failure (a bad config five times over).
        batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom({ onReason: "*" })),
      ],
      propagateTags: true,
    });
  }

  /** Instance settings Batch has no property for: a larger encrypted root volume, and the CUDA cache folder. */
  private instanceLaunchTemplate(): ec2.LaunchTemplate {
    const userData = new ec2.MultipartUserData();
    const commands = ec2.UserData.forLinux();
    // The trainer runs as a non-root user; Docker would create the bind-mounted folder owned by root.
    commands.addCommands(`mkdir -p ${CUDA_CACHE_HOST_PATH}`, `chmod 1777 ${CUDA_CACHE_HOST_PATH}`);
    userData.addUserDataPart(commands, ec2.MultipartBody.SHELL_SCRIPT, true);
    return new ec2.LaunchTemplate(this, "InstanceTemplate", {
      userData,
      requireImdsv2: true,
      httpPutResponseHopLimit: 2,
      blockDevices: [
        {
          deviceName: "/dev/xvda",
          // The trainer image (CUDA, cuDNN, libtensorflow) is ~6 GB; the AMI's 30 GiB default is tight for two.
          volume: ec2.BlockDeviceVolume.ebs(100, { volumeType: ec2.EbsDeviceVolumeType.GP3, encrypted: true }),
        },
      ],
    });
  }
}

/** Interface endpoints for `vpc=endpoints` (isolated subnets): what the ECS agent and the awslogs driver call. */
const INTERFACE_ENDPOINTS: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
  EcrApi: ec2.InterfaceVpcEndpointAwsService.ECR,
  EcrDocker: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
  Ecs: ec2.InterfaceVpcEndpointAwsService.ECS,
  EcsAgent: ec2.InterfaceVpcEndpointAwsService.ECS_AGENT,
  EcsTelemetry: ec2.InterfaceVpcEndpointAwsService.ECS_TELEMETRY,
  Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
};

function vpcLayout(mode: VpcMode): ec2.VpcProps {
  // Two AZs: an environment-agnostic stack cannot list more, and two spot pools per instance type already help.
  const base = { ipAddresses: ec2.IpAddresses.cidr("10.42.0.0/16"), maxAzs: 2 };
  switch (mode) {
    case "public":
      return {
        ...base,
        natGateways: 0,
        subnetConfiguration: [{ name: "Public", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 20 }],
      };
    case "nat":
      return {
        ...base,
        natGateways: 1,
        subnetConfiguration: [
          { name: "Public", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
          { name: "Private", subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
        ],
      };
    case "endpoints":
      return {
        ...base,
        natGateways: 0,
        subnetConfiguration: [{ name: "Isolated", subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 20 }],
      };
  }
}

/** A prebuilt image: an ECR URI gets a pull grant scoped to its repository; anything else is pulled as public. */
export function prebuiltTrainerImage(scope: Construct, uri: string): ecs.ContainerImage {
  const m =
    /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([a-z0-9._/-]+)(?::([\w.-]+))?(?:@(sha256:[0-9a-f]{64}))?$/.exec(
      uri,
    );
  if (!m) return ecs.ContainerImage.fromRegistry(uri);
  const [, account, region, name, tag, digest] = m;
  const repository = ecr.Repository.fromRepositoryAttributes(scope, "TrainerRepository", {
    repositoryArn: `arn:${Aws.PARTITION}:ecr:${region}:${account}:repository/${name}`,
    repositoryName: name,
  });
  return ecs.ContainerImage.fromEcrRepository(repository, digest ?? tag ?? "latest");
}

/** The CloudFormation logical id cdk-nag prints in a finding's id (`<RunsBucket1234.Arn>`). */
function logicalIdOf(bucket: s3.IBucket): string {
  return Stack.of(bucket).getLogicalId(bucket.node.defaultChild as CfnElement);
}
