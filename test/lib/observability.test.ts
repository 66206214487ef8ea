// Observability: the alerts topic, the two alarms and the dashboard's metrics.
process.env.CDK_VALIDATION = "false";
import { App, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as logs from "aws-cdk-lib/aws-logs";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { describe, expect, it } from "vitest";
import { METRIC } from "../../trainer/aws/emf.js";
import { AlertsTopic, Observability } from "../../lib/observability.js";

function synth(email = "", noMetricsAlarmMinutes = 30) {
  const stack = new Stack(new App(), "O");
  const alerts = new AlertsTopic(stack, "Alerts", { email });
  const stateMachine = new sfn.StateMachine(stack, "Machine", {
    definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Succeed(stack, "Done")),
  });
  const observability = new Observability(stack, "Observability", {
    alertsTopic: alerts.topic,
    stateMachine,
    trainerLogGroup: new logs.LogGroup(stack, "Logs"),
    noMetricsAlarmMinutes,
  });
  return { template: Template.fromStack(stack), stack, observability, alerts };
}

describe("AlertsTopic", () => {
  it("subscribes an e-mail address only when one is given, and refuses plain-HTTP publishing", () => {
    synth("ops@example.com").template.hasResourceProperties("AWS::SNS::Subscription", {
      Protocol: "email",
      Endpoint: "ops@example.com",
    });
    const { template } = synth();
    template.resourceCountIs("AWS::SNS::Subscription", 0);
    template.hasResourceProperties("AWS::SNS::TopicPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
  });
});

describe("Observability alarms", () => {
  const { template, stack, alerts } = synth("", 20);
  const alarms = Object.values(template.findResources("AWS::CloudWatch::Alarm")).map((a) => a.Properties);
  const topicRef = { Ref: stack.getLogicalId(alerts.topic.node.defaultChild as never) };
  const ids = (a: { Metrics: Array<{ MetricStat?: { Metric: { MetricName: string } } }> }) =>
    a.Metrics.flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric.MetricName] : []));

  it("alarms on failed, timed-out or aborted executions and notifies the topic", () => {
    const failed = alarms.find((a) => ids(a).includes("ExecutionsFailed"))!;
    expect(ids(failed).sort()).toEqual(["ExecutionsAborted", "ExecutionsFailed", "ExecutionsTimedOut"]);
    expect(failed).toMatchObject({
      Threshold: 1,
      EvaluationPeriods: 1,
      TreatMissingData: "notBreaching",
      AlarmActions: [topicRef],
    });
  });

  it("alarms when a trainer is alive without steps for the configured minutes, and not when no trainer runs", () => {
    const stalled = alarms.find((a) => ids(a).includes(METRIC.heartbeat))!;
    expect(ids(stalled).sort()).toEqual([METRIC.loss, METRIC.heartbeat].sort());
    // 20 minutes of 5-minute periods; missing data (no trainer at all) is not a breach.
    expect(stalled).toMatchObject({ EvaluationPeriods: 4, TreatMissingData: "notBreaching", AlarmActions: [topicRef] });
    const expression = stalled.Metrics.find((m: { Expression?: string }) => m.Expression).Expression;
    expect(expression).toBe("IF(FILL(alive, 0) > 0 AND FILL(steps, 0) == 0, 1, 0)");
  });
});

describe("Observability dashboard", () => {
  it("plots loss, images per second, learning rate, collapse and the probe against its baselines", () => {
    const { template } = synth();
    const body = JSON.stringify(
      Object.values(template.findResources("AWS::CloudWatch::Dashboard"))[0].Properties.DashboardBody,
    );
    for (const name of [
      METRIC.loss,
      METRIC.imagesPerSecond,
      METRIC.learningRate,
      METRIC.targetStd,
      METRIC.probeLinearTop1,
      METRIC.probeRawTop1,
      METRIC.probeRandomTop1,
    ]) {
      expect(body).toContain(name);
    }
    expect(body).toContain("SEARCH('{Ijepa,RunId}");
  });
});
