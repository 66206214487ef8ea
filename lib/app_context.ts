// The stack's settings: CDK context values (`cdk.json` defaults, `-c key=value` overrides), validated in one place.
import { z } from "zod";
import { ConfigError, describeZodIssues } from "../trainer/errors.js";

/** How the GPU instances reach S3, ECR and CloudWatch (monthly fixed cost of each in the README, "Costs"). */
export const VPC_MODES = ["public", "nat", "endpoints"] as const;
export type VpcMode = (typeof VPC_MODES)[number];

// `-c key=value` always arrives as a string; cdk.json may hold real JSON types. Accept both.
const bool = z.union([z.boolean(), z.enum(["true", "false"]).transform((s) => s === "true")]);
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const list = z.union([
  z.array(z.string()),
  z.string().transform((s) =>
    s
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean),
  ),
]);

export const appContextSchema = z.object({
  /** public: public subnets, no inbound rules, no NAT; nat: private subnets behind one NAT gateway;
   * endpoints: isolated subnets with interface endpoints for ECR, ECS and CloudWatch Logs. */
  vpc: z.enum(VPC_MODES).default("public"),
  /** Spot instances (about a third of the on-demand price; reclaims resume from the last checkpoint). */
  spot: bool.default(true),
  /** Instance types Batch may launch: one GPU of 24 GB each by default (A10G on g5, L4 on g6). */
  instanceTypes: list
    .pipe(z.array(z.string().regex(/^(g5|g6|g6e|p4d|p5)\.[a-z0-9]+$/, "a g5/g6 instance type")))
    .default(["g5.xlarge", "g6.xlarge"]),
  /** Upper bound of the compute environment (4 vCPU per g5.xlarge/g6.xlarge: 16 = four trainers at once). */
  maxvCpus: int(4, 10_000).default(16),
  /** A prebuilt trainer image (ECR URI); empty = build trainer/Dockerfile at deploy time (needs Docker). */
  trainerImage: z.string().default(""),
  /** Where alarms are e-mailed (the subscription must be confirmed from the e-mail); empty = none. */
  alertEmail: z.union([z.literal(""), z.email()]).default(""),
  /** Keep the buckets (and their data) on `cdk destroy`; false deletes them with their objects. */
  retainData: bool.default(true),
  /** A job RUNNABLE this long because no GPU instance can start (no quota, no capacity) is cancelled. */
  runnableTimeoutMinutes: int(10, 10_080).default(60),
  /** Wall-clock limit of one training segment's Batch job attempt. */
  jobTimeoutHours: int(1, 336).default(12),
  /** Alarm when a running trainer has logged no training step for this long. */
  noMetricsAlarmMinutes: int(5, 1440).default(30),
  /** Days a replaced or deleted object version stays in the runs bucket (undo for overwritten checkpoints). */
  noncurrentVersionDays: int(1, 3650).default(30),
});

export type AppContext = z.output<typeof appContextSchema>;
export const CONTEXT_KEYS = Object.keys(appContextSchema.shape) as Array<keyof AppContext>;

/** Validates context values (from `app.node.tryGetContext`), naming the key and the fix on a bad one. */
export function parseAppContext(raw: Partial<Record<keyof AppContext, unknown>>): AppContext {
  const parsed = appContextSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      `invalid CDK context: ${describeZodIssues(parsed.error, "context")}`,
      "fix the value in cdk.json or the -c key=value flag",
    );
  }
  return parsed.data;
}
