// cdk-nag 3 AwsSolutions over the whole stack in each network mode: no unacknowledged finding, a reason on each
// acknowledgement.
process.env.CDK_VALIDATION = "false";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import type { IConstruct } from "constructs";
import { afterAll, describe, expect, it } from "vitest";
import { buildApp } from "../../bin/cdk_app.js";

interface Finding {
  rule: string;
  path: string;
}

const outdirs: string[] = [];
afterAll(() => {
  for (const d of outdirs) rmSync(d, { recursive: true, force: true });
});

/** Synthesizes with the AwsSolutions pack and returns every finding left unacknowledged. */
function nagFindings(context: Record<string, unknown>): { findings: Finding[]; app: IConstruct } {
  const outdir = mkdtempSync(path.join(os.tmpdir(), "ijepa-nag-"));
  outdirs.push(outdir);
  const { app } = buildApp({ ...context, "aws:cdk:bundling-stacks": [] }, { outdir });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  try {
    app.synth();
  } catch (err) {
    // Synth throws when findings remain; the report file lists them.
    if (!/ValidationFailed|Validation failed|AwsSolutions/.test(String((err as Error).message))) throw err;
  }
  const reportFile = path.join(outdir, "validation-report.json");
  if (!existsSync(reportFile)) return { findings: [], app };
  const report = JSON.parse(readFileSync(reportFile, "utf8")) as {
    pluginReports: Array<{
      pluginName: string;
      violations: Array<{ ruleName: string; violatingConstructs?: Array<{ constructPath: string }> }>;
    }>;
  };
  const findings = report.pluginReports
    .filter((r) => r.pluginName === "AwsSolutions")
    .flatMap((r) =>
      r.violations.flatMap((v) =>
        (v.violatingConstructs ?? [{ constructPath: "?" }]).map((c) => ({ rule: v.ruleName, path: c.constructPath })),
      ),
    );
  return { findings, app };
}

const PREBUILT = "123456789012.dkr.ecr.us-east-1.amazonaws.com/ijepa-trainer:v1";
const variants: Array<[string, Record<string, unknown>]> = [
  ["public subnets, image built from trainer/Dockerfile", {}],
  [
    "private subnets behind NAT, prebuilt ECR image, e-mail alerts",
    { vpc: "nat", trainerImage: PREBUILT, alertEmail: "ops@example.com" },
  ],
  ["isolated subnets with interface endpoints, on-demand", { vpc: "endpoints", trainerImage: PREBUILT, spot: "false" }],
];

describe("cdk-nag AwsSolutions", () => {
  for (const [name, context] of variants) {
    it(`leaves no finding unacknowledged: ${name}`, () => {
      const { findings, app } = nagFindings(context);
      expect(findings.map((f) => `${f.rule} at ${f.path}`)).toEqual([]);

      // Every acknowledgement says why, in words a reviewer can check (not "ok", not the rule's own text).
      const acks = app.node
        .findAll()
        .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
        // Each metadata entry maps rule ids to reasons: { "AwsSolutions::AwsSolutions-IAM4[…]": "reason" }.
        .flatMap((m) => Object.entries(m.data as Record<string, string>));
      expect(acks.filter(([id]) => id.includes("AwsSolutions-")).length).toBeGreaterThan(0);
      for (const [id, reason] of acks) expect(reason.length, `${id}: ${reason}`).toBeGreaterThanOrEqual(40);
    });
  }
});
