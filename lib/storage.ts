// The two buckets a user meets (datasets, runs) and the bucket that logs every access to them.
import { Duration, RemovalPolicy, Validations } from "aws-cdk-lib";
import * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";

export interface StorageProps {
  /** Keep the buckets and their objects on `cdk destroy`; false empties and deletes them. */
  retainData: boolean;
  /** Days a replaced or deleted version of a run's object is kept. */
  noncurrentVersionDays: number;
}

/** Where sharded datasets live in the datasets bucket (`datasets/<name>/manifest.json`); raw uploads go beside it. */
export { DATASETS_PREFIX } from "../trainer/run/dataset_layout.js";

/**
 * Encryption is SSE-S3 (S3-managed keys), not KMS: the trainer rewrites checkpoints of up to gigabytes every few
 * minutes, and SSE-KMS would bill a KMS request per part and a key per month for no gain in who can read the
 * data (access is decided by the bucket policies and roles below, which KMS would only duplicate).
 */
export class Storage extends Construct {
  readonly datasetsBucket: s3.Bucket;
  readonly runsBucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);
    const removal = props.retainData
      ? { removalPolicy: RemovalPolicy.RETAIN }
      : { removalPolicy: RemovalPolicy.DESTROY, autoDeleteObjects: true };
    const common = {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      ...removal,
    };

    this.accessLogsBucket = new s3.Bucket(this, "AccessLogs", {
      ...common,
      // Server access logs can only be delivered with SSE-S3, and need the log-delivery ACL-less policy CDK adds.
      lifecycleRules: [{ expiration: Duration.days(365) }],
    });
    Validations.of(this.accessLogsBucket).acknowledge({
      id: "AwsSolutions-S1",
      reason: "This is the access-log bucket itself; logging it into itself would log every log delivery, forever.",
    });

    this.datasetsBucket = new s3.Bucket(this, "Datasets", {
      ...common,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: "datasets/",
      // Shards are rebuilt from the raw source when lost; old versions would only double the bill.
      versioned: false,
      lifecycleRules: [{ abortIncompleteMultipartUploadAfter: Duration.days(2) }],
    });

    this.runsBucket = new s3.Bucket(this, "Runs", {
      ...common,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: "runs/",
      // Checkpoints are weeks of GPU time: an overwritten or deleted object stays recoverable for a while.
      versioned: true,
      lifecycleRules: [
        {
          noncurrentVersionExpiration: Duration.days(props.noncurrentVersionDays),
          abortIncompleteMultipartUploadAfter: Duration.days(2),
        },
      ],
    });
  }
}
