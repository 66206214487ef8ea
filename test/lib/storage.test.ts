// Storage: the datasets and runs buckets and their access-log bucket, as synthesized.
process.env.CDK_VALIDATION = "false";
import { App, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { Storage } from "../../lib/storage.js";
import { FEATURE_FLAGS } from "../../bin/cdk_app.js";

function synth(props: { retainData: boolean; noncurrentVersionDays: number }) {
  const stack = new Stack(new App({ context: FEATURE_FLAGS }), "S");
  const storage = new Storage(stack, "Storage", props);
  return { template: Template.fromStack(stack), storage, stack };
}

describe("Storage", () => {
  const { template, storage, stack } = synth({ retainData: true, noncurrentVersionDays: 30 });
  const id = (b: { node: { defaultChild?: unknown } }) => stack.getLogicalId(b.node.defaultChild as never);

  it("blocks public access and encrypts every bucket with S3-managed keys", () => {
    const buckets = template.findResources("AWS::S3::Bucket");
    expect(Object.keys(buckets)).toHaveLength(3);
    for (const b of Object.values(buckets)) {
      expect(b.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(
        b.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm,
      ).toBe("AES256");
    }
  });

  it("refuses requests that do not use TLS, on every bucket", () => {
    const policies = Object.values(template.findResources("AWS::S3::BucketPolicy"));
    expect(policies).toHaveLength(3);
    for (const p of policies) {
      expect(p.Properties.PolicyDocument.Statement).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            Effect: "Deny",
            Action: "s3:*",
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          }),
        ]),
      );
    }
  });

  it("versions the runs bucket and expires replaced versions after the configured days", () => {
    const runs = template.toJSON().Resources[id(storage.runsBucket)].Properties;
    expect(runs.VersioningConfiguration).toEqual({ Status: "Enabled" });
    expect(runs.LifecycleConfiguration.Rules).toEqual([
      expect.objectContaining({ NoncurrentVersionExpiration: { NoncurrentDays: 30 }, Status: "Enabled" }),
    ]);
    expect(template.toJSON().Resources[id(storage.datasetsBucket)].Properties.VersioningConfiguration).toBeUndefined();
  });

  it("logs every access to datasets and runs into the log bucket, under separate prefixes", () => {
    const resources = template.toJSON().Resources;
    const logs = { Ref: id(storage.accessLogsBucket) };
    expect(resources[id(storage.datasetsBucket)].Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: logs,
      LogFilePrefix: "datasets/",
    });
    expect(resources[id(storage.runsBucket)].Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: logs,
      LogFilePrefix: "runs/",
    });
    template.hasResourceProperties("AWS::S3::BucketPolicy", {
      Bucket: logs,
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: "logging.s3.amazonaws.com" }, Action: "s3:PutObject" }),
        ]),
      },
    });
  });

  it("keeps the buckets on cdk destroy unless retainData is false", () => {
    for (const b of Object.values(template.findResources("AWS::S3::Bucket"))) expect(b.DeletionPolicy).toBe("Retain");
    const destroyed = synth({ retainData: false, noncurrentVersionDays: 7 }).template;
    for (const b of Object.values(destroyed.findResources("AWS::S3::Bucket"))) expect(b.DeletionPolicy).toBe("Delete");
    destroyed.resourceCountIs("Custom::S3AutoDeleteObjects", 3);
  });
});
