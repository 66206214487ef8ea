// GpuBatch: network, the AL2023 NVIDIA compute environment, the queue's RUNNABLE limits and the trainer job.
process.env.CDK_VALIDATION = "false";
import { App, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as s3 from "aws-cdk-lib/aws-s3";
import { describe, expect, it } from "vitest";
import type { VpcMode } from "../../lib/app_context.js";
import {
  CUDA_CACHE_HOST_PATH,
  GpuBatch,
  TRAIN_COMMAND,
  prebuiltTrainerImage,
  type GpuBatchProps,
} from "../../lib/gpu_batch.js";

function synth(over: Partial<GpuBatchProps> & { vpcMode?: VpcMode } = {}) {
  const stack = new Stack(new App(), "G");
  const bucket = (id: string) => new s3.Bucket(stack, id);
  const compute = new GpuBatch(stack, "Compute", {
    vpcMode: "public",
    instanceTypes: ["g5.xlarge", "g6.xlarge"],
    spot: true,
    maxvCpus: 16,
    image: ecs.ContainerImage.fromRegistry("public.ecr.aws/example/ijepa:1"),
    datasetsBucket: bucket("Datasets"),
    runsBucket: bucket("Runs"),
    flowLogsBucket: bucket("Logs"),
    runnableTimeoutMinutes: 60,
    jobTimeoutHours: 12,
    ...over,
  });
  return { template: Template.fromStack(stack), stack, compute };
}

const jobDefinitionOf = (t: Template) => Object.values(t.findResources("AWS::Batch::JobDefinition"))[0].Properties;

describe("GpuBatch compute environment", () => {
  const { template } = synth();

  it("launches the ECS AL2023 NVIDIA AMI on g5/g6 spot instances, from zero to maxvCpus", () => {
    template.hasResourceProperties("AWS::Batch::ComputeEnvironment", {
      Type: "managed",
      ComputeResources: Match.objectLike({
        Type: "SPOT",
        AllocationStrategy: "SPOT_PRICE_CAPACITY_OPTIMIZED",
        Ec2Configuration: [{ ImageType: "ECS_AL2023_NVIDIA" }],
        InstanceTypes: ["g5.xlarge", "g6.xlarge"],
        MinvCpus: 0,
        MaxvCpus: 16,
      }),
    });
  });

  it("uses on-demand instances when spot is off", () => {
    synth({ spot: false, maxvCpus: 8 }).template.hasResourceProperties("AWS::Batch::ComputeEnvironment", {
      ComputeResources: Match.objectLike({ Type: "EC2", AllocationStrategy: "BEST_FIT_PROGRESSIVE", MaxvCpus: 8 }),
    });
  });

  it("prepares a world-writable CUDA cache folder and requires IMDSv2 on the instances", () => {
    const lt = Object.values(template.findResources("AWS::EC2::LaunchTemplate"))[0].Properties.LaunchTemplateData;
    expect(lt.MetadataOptions.HttpTokens).toBe("required");
    expect(JSON.stringify(lt.UserData)).toContain(`chmod 1777 ${CUDA_CACHE_HOST_PATH}`);
    expect(lt.BlockDeviceMappings[0].Ebs).toMatchObject({ Encrypted: true, VolumeType: "gp3" });
  });

  it("gives the instances no inbound rule", () => {
    for (const sg of Object.values(template.findResources("AWS::EC2::SecurityGroup"))) {
      expect(sg.Properties.SecurityGroupIngress ?? []).toEqual([]);
    }
    template.resourceCountIs("AWS::EC2::SecurityGroupIngress", 0);
  });
});

describe("GpuBatch network choices", () => {
  const count = (t: Template, type: string) => Object.keys(t.findResources(type)).length;
  const endpointTypes = (t: Template) =>
    Object.values(t.findResources("AWS::EC2::VPCEndpoint")).map((e) => e.Properties.VpcEndpointType ?? "Gateway");

  it("public: no NAT gateway, an S3 gateway endpoint, and nothing billed by the hour", () => {
    const { template } = synth({ vpcMode: "public" });
    expect(count(template, "AWS::EC2::NatGateway")).toBe(0);
    expect(endpointTypes(template)).toEqual(["Gateway"]);
  });

  it("nat: one NAT gateway for private subnets, still S3 through the gateway endpoint", () => {
    const { template } = synth({ vpcMode: "nat" });
    expect(count(template, "AWS::EC2::NatGateway")).toBe(1);
    expect(endpointTypes(template)).toEqual(["Gateway"]);
  });

  it("endpoints: isolated subnets with six interface endpoints reachable only from the instances", () => {
    const { template } = synth({ vpcMode: "endpoints" });
    expect(count(template, "AWS::EC2::NatGateway")).toBe(0);
    expect(endpointTypes(template).sort()).toEqual(["Gateway", ...Array(6).fill("Interface")]);
    template.hasResourceProperties("AWS::EC2::SecurityGroupIngress", {
      FromPort: 443,
      ToPort: 443,
      SourceSecurityGroupId: Match.anyValue(),
    });
  });
});

describe("GpuBatch job queue", () => {
  it("cancels a job left RUNNABLE without capacity after runnableTimeoutMinutes, misconfigured ones after 10", () => {
    const { template } = synth({ runnableTimeoutMinutes: 45 });
    const queue = Object.values(template.findResources("AWS::Batch::JobQueue"))[0].Properties;
    expect(queue.JobStateTimeLimitActions).toEqual([
      { Action: "CANCEL", MaxTimeSeconds: 2700, Reason: "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY", State: "RUNNABLE" },
      {
        Action: "CANCEL",
        MaxTimeSeconds: 600,
        Reason: "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
        State: "RUNNABLE",
      },
      { Action: "CANCEL", MaxTimeSeconds: 600, Reason: "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT", State: "RUNNABLE" },
    ]);
  });
});

describe("GpuBatch trainer job definition", () => {
  const { template, stack, compute } = synth({ jobTimeoutHours: 6 });
  const def = jobDefinitionOf(template);
  const container = def.ContainerProperties;

  it("asks for one GPU and a share of CPU and memory that fits g5.xlarge / g6.xlarge", () => {
    const req = Object.fromEntries(
      container.ResourceRequirements.map((r: { Type: string; Value: string }) => [r.Type, r.Value]),
    );
    expect(req).toEqual({ GPU: "1", VCPU: "4", MEMORY: "15000" });
    expect(Number(req.MEMORY)).toBeLessThan(16 * 1024 * 0.95);
  });

  it("runs `train … --auto-resume` with whole-argument Ref:: parameters", () => {
    expect(container.Command).toEqual(TRAIN_COMMAND);
    expect(container.Command.filter((a: string) => a.startsWith("Ref::"))).toEqual([
      "Ref::config",
      "Ref::data",
      "Ref::out",
      "Ref::epochs",
      "Ref::untilEpoch",
    ]);
  });

  it("retries spot reclaims and image pulls, and exits on anything else (in that order)", () => {
    expect(def.RetryStrategy.EvaluateOnExit).toEqual([
      { Action: "RETRY", OnStatusReason: "Host EC2*" },
      { Action: "RETRY", OnReason: "CannotPullContainerError:*" },
      { Action: "EXIT", OnReason: "*" },
    ]);
    expect(def.RetryStrategy.Attempts).toBeGreaterThan(1);
  });

  it("limits each attempt, runs an init process and gives shared memory", () => {
    expect(def.Timeout).toEqual({ AttemptDurationSeconds: 6 * 3600 });
    expect(container.LinuxParameters).toMatchObject({ InitProcessEnabled: true, SharedMemorySize: 2048 });
  });

  it("requires a GPU in the job and keeps CUDA's JIT cache on the host", () => {
    const env = Object.fromEntries(
      container.Environment.map((e: { Name: string; Value: string }) => [e.Name, e.Value]),
    );
    expect(env).toMatchObject({ IJEPA_REQUIRE_GPU: "1", CUDA_CACHE_PATH: CUDA_CACHE_HOST_PATH });
    expect(Number(env.CUDA_CACHE_MAXSIZE)).toBeGreaterThanOrEqual(2 ** 31);
    expect(container.Volumes).toEqual([{ Name: "cuda-cache", Host: { SourcePath: CUDA_CACHE_HOST_PATH } }]);
    expect(container.MountPoints).toEqual([{ SourceVolume: "cuda-cache", ContainerPath: CUDA_CACHE_HOST_PATH }]);
  });

  it("lets the trainer read only datasets/* and read/write only the runs bucket, with no wildcard action", () => {
    const roleId = stack.getLogicalId(compute.jobRole.node.defaultChild as never);
    const policy = Object.values(template.findResources("AWS::IAM::Policy")).find(
      (p) => p.Properties.Roles[0].Ref === roleId,
    )!;
    const statements = policy.Properties.PolicyDocument.Statement;
    const json = JSON.stringify(statements);
    expect(json).toContain('"/datasets/*"');
    for (const s of statements) for (const a of [s.Action].flat()) expect(a).not.toContain("*");
    const datasetsList = statements.find((s: { Condition?: unknown }) => s.Condition);
    expect(datasetsList.Condition).toEqual({ StringLike: { "s3:prefix": ["datasets/*"] } });
  });
});

describe("prebuiltTrainerImage", () => {
  it("grants image pulls on exactly the named ECR repository", () => {
    const stack = new Stack(new App(), "P");
    const image = prebuiltTrainerImage(stack, "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/ijepa:v3");
    expect(image).toBeInstanceOf(ecs.EcrImage);
    expect(stack.resolve((image as ecs.EcrImage).imageName)).toMatchObject({
      "Fn::Join": ["", expect.arrayContaining([expect.stringContaining("team/ijepa:v3")])],
    });
  });

  it("pulls any other URI as a public image", () => {
    const stack = new Stack(new App(), "P");
    expect(prebuiltTrainerImage(stack, "ghcr.io/me/ijepa:1")).not.toBeInstanceOf(ecs.EcrImage);
  });
});
