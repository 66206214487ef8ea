// The whole stack as `npx cdk synth` builds it: what it holds, its context handling and its outputs.
process.env.CDK_VALIDATION = "false";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { CfnElement } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../bin/cdk_app.js";
import { appContextSchema, parseAppContext } from "../../lib/app_context.js";
import { OUTPUT } from "../../lib/ijepa_stack.js";
import { ConfigError } from "../../trainer/errors.js";

const PREBUILT = "123456789012.dkr.ecr.us-east-1.amazonaws.com/ijepa-trainer:v1";
// Unit tests skip esbuild bundling of the Lambdas (synth.test.ts does the one full synth).
const NO_BUNDLING = { "aws:cdk:bundling-stacks": [] };

describe("IjepaStack", () => {
  const { app, stack } = buildApp({ trainerImage: PREBUILT, ...NO_BUNDLING });
  const template = Template.fromStack(stack);

  it("holds the buckets, one state machine, the GPU job definition, compute environment, queue and topic", () => {
    template.resourceCountIs("AWS::S3::Bucket", 3); // datasets, runs, and their access logs
    template.resourceCountIs("AWS::StepFunctions::StateMachine", 1);
    template.resourceCountIs("AWS::Batch::JobDefinition", 1);
    template.resourceCountIs("AWS::Batch::JobQueue", 1);
    template.resourceCountIs("AWS::SNS::Topic", 1);
    template.hasResourceProperties("AWS::Batch::ComputeEnvironment", {
      ComputeResources: { Ec2Configuration: [{ ImageType: "ECS_AL2023_NVIDIA" }] },
    });
  });

  it("lets the state machine watch and stop its Batch job (.sync), with TerminateJob scoped to this account's jobs", () => {
    const roleId = stack.getLogicalId(stack.workflow.stateMachine.role.node.defaultChild as CfnElement);
    const statements = Object.values(template.findResources("AWS::IAM::Policy"))
      .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);
    const byAction = (a: string) => statements.find((s) => [s.Action].flat().includes(a));
    expect(byAction("batch:DescribeJobs").Resource).toBe("*");
    expect(JSON.stringify(byAction("batch:TerminateJob").Resource)).toContain(":job/*");
  });

  it("has no IAM statement with a wildcard action", () => {
    for (const type of ["AWS::IAM::Policy", "AWS::IAM::Role"]) {
      for (const r of Object.values(template.findResources(type))) {
        const docs =
          type === "AWS::IAM::Policy"
            ? [r.Properties.PolicyDocument]
            : (r.Properties.Policies ?? []).map((p: { PolicyDocument: unknown }) => p.PolicyDocument);
        for (const doc of docs)
          for (const s of doc.Statement)
            for (const a of [s.Action].flat()) expect(a, JSON.stringify(s)).not.toMatch(/\*/);
      }
    }
  });

  it("outputs what `ijepa aws start/status` and the README read", () => {
    expect(Object.keys(template.toJSON().Outputs).sort()).toEqual(Object.values(OUTPUT).sort());
  });

  it("uses the prebuilt trainer image given by -c trainerImage, with no image asset to build", () => {
    const def = Object.values(template.findResources("AWS::Batch::JobDefinition"))[0].Properties;
    expect(JSON.stringify(def.ContainerProperties.Image)).toContain("ijepa-trainer:v1");
    const assets = JSON.parse(
      readFileSync(path.join(app.synth().directory, `${stack.artifactId}.assets.json`), "utf8"),
    );
    expect(assets.dockerImages ?? {}).toEqual({});
  });
});

describe("CDK context", () => {
  it("documents in cdk.json exactly the defaults the schema applies", () => {
    const cdkJson = JSON.parse(readFileSync(new URL("../../cdk.json", import.meta.url), "utf8"));
    expect(cdkJson.app).toBe("npx tsx bin/cdk_app.ts");
    expect(parseAppContext(cdkJson.context)).toEqual(appContextSchema.parse({}));
    expect(Object.keys(cdkJson.context).sort()).toEqual(Object.keys(appContextSchema.shape).sort());
  });

  it("reads -c values given as strings", () => {
    expect(parseAppContext({ spot: "false", maxvCpus: "32", instanceTypes: "g6.2xlarge, g5.2xlarge" })).toMatchObject({
      spot: false,
      maxvCpus: 32,
      instanceTypes: ["g6.2xlarge", "g5.2xlarge"],
    });
  });

  it("refuses a bad value in one line naming the key", () => {
    expect(() => parseAppContext({ vpc: "private" })).toThrow(ConfigError);
    expect(() => parseAppContext({ vpc: "private" })).toThrow(/context\b.*vpc/);
    expect(() => parseAppContext({ instanceTypes: "m5.large" })).toThrow(/instanceTypes/);
    expect(() => buildApp({ maxvCpus: "lots" })).toThrow(/maxvCpus/);
  });
});
