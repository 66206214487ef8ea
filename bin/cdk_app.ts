// The CDK app: reads the context (cdk.json defaults, -c overrides) and builds the one stack; `npx cdk synth` runs it.
import { pathToFileURL } from "node:url";
import { App, type AppProps } from "aws-cdk-lib";
import { CONTEXT_KEYS, parseAppContext, type AppContext } from "../lib/app_context.js";
import { IjepaStack } from "../lib/ijepa_stack.js";

export const STACK_NAME = "Ijepa";

/** Feature flags the stack is written for, set here so the CLI, tests and the local runner synthesize alike. */
export const FEATURE_FLAGS = {
  // Access logs delivered under a bucket policy (logging.s3.amazonaws.com), not the legacy log-delivery ACL.
  "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": true,
};

/**
 * Builds the app in-process (tests, the local workflow runner) or for the CDK CLI. `context` adds to what cdk.json
 * and `-c` give; the stack is environment-agnostic (no account or region lookups), so synth needs no credentials.
 */
export function buildApp(
  context: Record<string, unknown> = {},
  props: Omit<AppProps, "context"> = {},
): { app: App; stack: IjepaStack; settings: AppContext } {
  const app = new App({ ...props, context: { ...FEATURE_FLAGS, ...context } });
  const raw = Object.fromEntries(
    CONTEXT_KEYS.map((key) => [key, app.node.tryGetContext(key)]).filter(([, v]) => v !== undefined),
  );
  const settings = parseAppContext(raw);
  const stack = new IjepaStack(app, STACK_NAME, {
    settings,
    description:
      "I-JEPA pretraining: datasets and runs buckets, GPU trainer on AWS Batch, Step Functions workflow, alerts",
  });
  return { app, stack, settings };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  buildApp().app.synth();
}
