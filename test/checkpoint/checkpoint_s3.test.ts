// The checkpoint-store and rotation suites again, against the real S3 server (radosgw) the test setup starts.
import { describe } from "vitest";
import { makeTestBucket, withS3Server } from "../support/s3_test_bucket.js";
import { describeCheckpointStore } from "./checkpoint_store.suite.js";
import { describeCheckpointRotation } from "./rotation.suite.js";

withS3Server("checkpoints on S3", () => {
  let counter = 0;
  const makeStore = async () => {
    const bucket = await makeTestBucket(`ckpt-${counter++}`);
    return bucket.store("runs/run-1");
  };
  describe("checkpoints on S3 (radosgw)", () => {
    describeCheckpointStore(makeStore);
    describeCheckpointRotation(makeStore);
  });
});
