// The deployed workflow, read from the synthesized CloudFormation template: the state machine's definition
// with its tokens (Ref, Fn::GetAtt, Fn::Join) resolved to local names, each Lambda's environment, and the
// trainer's job definition. Nothing here knows the states: they come from lib/ through `cdk synth`.
import { buildApp } from "../bin/cdk_app.js";
import { checkAsl } from "./asl_rules.js";

export const LOCAL_ACCOUNT = "000000000000";
export const LOCAL_REGION = "local-1";

interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
}

/** A Lambda of the template: its environment (tokens resolved) and which handler factory it runs. */
export interface TemplateFunction {
  logicalId: string;
  arn: string;
  environment: Record<string, string>;
  /** functions/<folder> (IJEPA_FUNCTION). */
  folder: string;
  /** The export for folders with several handlers (IJEPA_HANDLER). */
  handler: string | undefined;
}

export interface EvaluateOnExit {
  Action: string;
  OnStatusReason?: string;
  OnReason?: string;
  OnExitCode?: string;
}

export interface TemplateJobDefinition {
  logicalId: string;
  arn: string;
  command: string[];
  environment: Record<string, string>;
  retryStrategy: { attempts: number; evaluateOnExit: EvaluateOnExit[] };
}

export interface WorkflowTemplate {
  /** The state machine's ASL, as deployed, with local names for the resources it calls. */
  definition: Record<string, unknown>;
  functions: Map<string, TemplateFunction>;
  jobDefinitions: Map<string, TemplateJobDefinition>;
  /** Logical ids of the buckets: their `s3://<bucket>` roots are remapped to local folders or an S3 endpoint. */
  buckets: string[];
}

/** The placeholder bucket name a bucket's Ref resolves to; `bucketRoot` rewrites `s3://<it>` afterwards. */
export function placeholderBucket(logicalId: string): string {
  return `local-bucket-${logicalId.toLowerCase()}`;
}

/**
 * Synthesizes the CDK app in-process, skipping what only a deployment needs: no Lambda bundling (the runner calls
 * the handlers, not the bundles), no trainer image build context (the runner runs this checkout's CLI), and no
 * cdk-nag validation (the tests run it). About 1 s instead of 20.
 */
export function synthesizeTemplate(context: Record<string, unknown> = {}): CfnTemplate {
  const saved = process.env.CDK_VALIDATION;
  process.env.CDK_VALIDATION = "false";
  try {
    const { app, stack } = buildApp({ "aws:cdk:bundling-stacks": [], trainerImage: LOCAL_TRAINER_IMAGE, ...context });
    return app.synth().getStackByName(stack.stackName).template as CfnTemplate;
  } finally {
    if (saved === undefined) delete process.env.CDK_VALIDATION;
    else process.env.CDK_VALIDATION = saved;
  }
}

/** An image name the template carries locally instead of the Docker build context; nothing pulls it. */
const LOCAL_TRAINER_IMAGE = "ijepa-trainer:local-runner";

/** Reads the workflow out of a template. Exactly one state machine is expected. */
export function readWorkflowTemplate(template: CfnTemplate): WorkflowTemplate {
  const resources = template.Resources;
  const resolve = (value: unknown): unknown => resolveTokens(value, resources);
  const machines = Object.entries(resources).filter(([, r]) => r.Type === "AWS::StepFunctions::StateMachine");
  if (machines.length !== 1) throw new Error(`expected one state machine in the template, found ${machines.length}`);
  const definitionString = resolve(machines[0][1].Properties?.DefinitionString);
  if (typeof definitionString !== "string")
    throw new Error("the state machine's DefinitionString did not resolve to a string");

  const functions = new Map<string, TemplateFunction>();
  const jobDefinitions = new Map<string, TemplateJobDefinition>();
  for (const [logicalId, r] of Object.entries(resources)) {
    const p = r.Properties ?? {};
    if (r.Type === "AWS::Lambda::Function") {
      const env = resolve((p.Environment as { Variables?: unknown } | undefined)?.Variables ?? {}) as Record<
        string,
        string
      >;
      if (!env.IJEPA_FUNCTION) continue; // CDK's own helpers (bucket auto-delete, log retention) are not ours
      functions.set(arnOf(logicalId, r.Type), {
        logicalId,
        arn: arnOf(logicalId, r.Type),
        environment: env,
        folder: env.IJEPA_FUNCTION,
        handler: env.IJEPA_HANDLER,
      });
    } else if (r.Type === "AWS::Batch::JobDefinition") {
      const c = (p.ContainerProperties ?? {}) as { Command?: unknown; Environment?: unknown };
      const env = (resolve(c.Environment ?? []) as Array<{ Name: string; Value: string }>).map((e) => [
        e.Name,
        e.Value,
      ]);
      const retry = (p.RetryStrategy ?? {}) as { Attempts?: number; EvaluateOnExit?: EvaluateOnExit[] };
      jobDefinitions.set(arnOf(logicalId, r.Type), {
        logicalId,
        arn: arnOf(logicalId, r.Type),
        command: resolve(c.Command ?? []) as string[],
        environment: Object.fromEntries(env),
        retryStrategy: { attempts: retry.Attempts ?? 1, evaluateOnExit: retry.EvaluateOnExit ?? [] },
      });
    }
  }
  const definition = JSON.parse(definitionString);
  const problems = checkAsl(definition);
  if (problems.length > 0) {
    throw new Error(
      `the synthesized state machine cannot run locally: ${problems.map((p) => `${p.state}: ${p.problem}`).join("; ")}`,
    );
  }
  const buckets = Object.entries(resources)
    .filter(([, r]) => r.Type === "AWS::S3::Bucket")
    .map(([id]) => id);
  return { definition, functions, jobDefinitions, buckets };
}

/** Local ARN of a resource, as its Ref / Fn::GetAtt Arn resolves here. */
function arnOf(logicalId: string, type: string): string {
  const at = `${LOCAL_REGION}:${LOCAL_ACCOUNT}`;
  switch (type) {
    case "AWS::Lambda::Function":
      return `arn:aws:lambda:${at}:function:${logicalId}`;
    case "AWS::Batch::JobDefinition":
      return `arn:aws:batch:${at}:job-definition/${logicalId}:1`;
    case "AWS::Batch::JobQueue":
      return `arn:aws:batch:${at}:job-queue/${logicalId}`;
    case "AWS::SNS::Topic":
      return `arn:aws:sns:${at}:${logicalId}`;
    case "AWS::S3::Bucket":
      return `arn:aws:s3:::${placeholderBucket(logicalId)}`;
    default:
      return `arn:aws:local:${at}:${logicalId}`;
  }
}

const PSEUDO: Record<string, string> = {
  "AWS::Partition": "aws",
  "AWS::Region": LOCAL_REGION,
  "AWS::AccountId": LOCAL_ACCOUNT,
  "AWS::URLSuffix": "amazonaws.com",
  "AWS::StackName": "Ijepa",
};

/** Resolves the intrinsic functions CDK emits for references between resources; anything else is refused. */
export function resolveTokens(value: unknown, resources: CfnTemplate["Resources"]): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveTokens(v, resources));
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value);
  if (entries.length === 1) {
    const [fn, arg] = entries[0];
    if (fn === "Ref") {
      const name = arg as string;
      if (PSEUDO[name]) return PSEUDO[name];
      const r = resources[name];
      if (!r) throw new Error(`Ref to unknown resource ${name}`);
      if (r.Type === "AWS::S3::Bucket") return placeholderBucket(name);
      // Ref of a job definition, topic or queue is its ARN; of a function, its name (the logical id here).
      if (r.Type === "AWS::Lambda::Function") return name;
      return arnOf(name, r.Type);
    }
    if (fn === "Fn::GetAtt") {
      const [name, attribute] = arg as [string, string];
      const r = resources[name];
      if (!r) throw new Error(`Fn::GetAtt of unknown resource ${name}`);
      if (/Arn$/.test(attribute)) return arnOf(name, r.Type);
      return `${name}.${attribute}`;
    }
    if (fn === "Fn::Join") {
      const [sep, parts] = arg as [string, unknown[]];
      return (resolveTokens(parts, resources) as unknown[]).map(String).join(sep);
    }
    if (fn.startsWith("Fn::"))
      throw new Error(`the local runner cannot resolve ${fn} (add it to local/workflow_template.ts)`);
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, resolveTokens(v, resources)]));
}
