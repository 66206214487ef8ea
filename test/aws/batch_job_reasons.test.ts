// Batch status reasons → what the user is told to do.
import { describe, expect, it } from "vitest";
import { explainBatchFailure } from "../../trainer/aws/batch_job_reasons.js";

describe("explainBatchFailure", () => {
  it("tells a user whose job sat RUNNABLE without capacity to request a G instance quota", () => {
    const e = explainBatchFailure("Canceled by JobStateTimeLimitActions: CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY");
    expect(e.kind).toBe("no-gpu-capacity");
    expect(e.hint).toContain("request a G instance quota");
  });

  it("points a too-large job at maxvCpus or instance types, not at quotas", () => {
    const e = explainBatchFailure("MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - no instance fits");
    expect(e.kind).toBe("misconfigured");
    expect(e.hint).toContain("maxvCpus");
  });

  it("recognises spot reclaims and image pulls by the prefixes the retry strategy matches", () => {
    expect(explainBatchFailure("Host EC2 (instance i-0abc) terminated.").kind).toBe("spot-reclaimed");
    expect(explainBatchFailure("CannotPullContainerError: pull access denied").kind).toBe("image-pull");
    expect(explainBatchFailure("Essential container in task exited").kind).toBe("trainer-error");
  });

  it("passes an unknown reason through instead of guessing", () => {
    expect(explainBatchFailure("Something new")).toEqual({ kind: "unknown", hint: "AWS Batch says: Something new" });
    expect(explainBatchFailure(undefined).hint).toBe("AWS Batch gave no reason");
  });
});
