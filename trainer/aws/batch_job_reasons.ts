// Turns an AWS Batch job's status reason into what the user should do (quota, capacity, spot, image, config).

export interface BatchFailureExplanation {
  /** Short tag for reports. */
  kind: "no-gpu-capacity" | "misconfigured" | "spot-reclaimed" | "image-pull" | "trainer-error" | "timeout" | "unknown";
  /** One line a user can act on. */
  hint: string;
}

/**
 * Explains a Batch `statusReason` (or a container's `reason`). The job queue cancels a job left RUNNABLE by its
 * time-limit actions with the blocking reason in the status reason; a new account's G-instance vCPU quota is 0,
 * which is the usual cause of CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY.
 */
export function explainBatchFailure(statusReason: string | undefined): BatchFailureExplanation {
  const reason = statusReason ?? "";
  if (/CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY/i.test(reason)) {
    return {
      kind: "no-gpu-capacity",
      hint:
        'no GPU instance could start: request a G instance quota (Service Quotas → Amazon EC2 → "Running On-Demand G and VT ' +
        'instances" / "All G and VT Spot Instance Requests", at least 4 vCPUs), or deploy with -c spot=false or other -c instanceTypes',
    };
  }
  if (/MISCONFIGURATION:(COMPUTE_ENVIRONMENT_MAX_RESOURCE|JOB_RESOURCE_REQUIREMENT)/i.test(reason)) {
    return {
      kind: "misconfigured",
      hint: "the job needs more vCPUs, memory or GPUs than the compute environment offers: raise -c maxvCpus or choose larger -c instanceTypes",
    };
  }
  if (/^Host EC2/i.test(reason)) {
    return {
      kind: "spot-reclaimed",
      hint: "the spot instance was reclaimed; Batch retries the job, which resumes from its last checkpoint",
    };
  }
  if (/CannotPullContainerError/i.test(reason)) {
    return {
      kind: "image-pull",
      hint: "the trainer image could not be pulled: check -c trainerImage (or redeploy so the image asset is pushed)",
    };
  }
  if (/Job attempt duration exceeded timeout/i.test(reason)) {
    return {
      kind: "timeout",
      hint: "a training segment ran past -c jobTimeoutHours: use fewer segmentEpochs per segment or raise the limit",
    };
  }
  if (/Essential container in task exited|NonZeroExitCode|exit code/i.test(reason)) {
    return {
      kind: "trainer-error",
      hint: "the trainer exited with an error: its last log lines say why (ijepa aws status, or the trainer log group)",
    };
  }
  return { kind: "unknown", hint: reason ? `AWS Batch says: ${reason}` : "AWS Batch gave no reason" };
}
