// What a user watches: the alerts topic (optional e-mail), alarms on failed executions and stalled trainers,
// and one dashboard with the trainer's EMF metrics, probe scores and the workflow's execution counts.
import { Duration, Validations } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as logs from "aws-cdk-lib/aws-logs";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import type * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import { METRIC, METRICS_NAMESPACE, type MetricName } from "../trainer/aws/emf.js";

/** The topic exists before the workflow (which publishes to it); alarms and dashboard come after. */
export class AlertsTopic extends Construct {
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: { email: string }) {
    super(scope, id);
    this.topic = new sns.Topic(this, "Topic", { displayName: "ijepa training alerts", enforceSSL: true });
    if (props.email) this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
    Validations.of(this.topic).acknowledge({
      id: "AwsSolutions-SNS2",
      reason:
        "Messages hold run names and error text, no data. The AWS-managed SNS key would stop CloudWatch alarms from " +
        "publishing (its key policy cannot grant the alarm service), and a customer key costs a month's idle stack.",
    });
  }
}

export interface ObservabilityProps {
  alertsTopic: sns.ITopic;
  stateMachine: sfn.IStateMachine;
  trainerLogGroup: logs.ILogGroup;
  /** Alarm when a trainer is alive but has logged no step for this long. */
  noMetricsAlarmMinutes: number;
}

const PERIOD = Duration.minutes(5);

export class Observability extends Construct {
  readonly executionFailedAlarm: cloudwatch.Alarm;
  readonly trainerStalledAlarm: cloudwatch.Alarm;
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const { stateMachine } = props;
    const notify = new actions.SnsAction(props.alertsTopic);

    // Failed, timed out or aborted executions: the workflow's own notification says why; this catches the rest.
    const ended = new cloudwatch.MathExpression({
      expression: "FILL(failed, 0) + FILL(timedOut, 0) + FILL(aborted, 0)",
      usingMetrics: {
        failed: stateMachine.metricFailed({ period: PERIOD, statistic: "Sum" }),
        timedOut: stateMachine.metricTimedOut({ period: PERIOD, statistic: "Sum" }),
        aborted: stateMachine.metricAborted({ period: PERIOD, statistic: "Sum" }),
      },
      label: "executions failed, timed out or aborted",
      period: PERIOD,
    });
    this.executionFailedAlarm = ended.createAlarm(this, "ExecutionFailed", {
      alarmDescription:
        "A training execution failed, timed out or was aborted: see the execution in the Step Functions console",
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.executionFailedAlarm.addAlarmAction(notify);

    // A trainer whose heartbeat timer still fires but that logs no step: stuck on data, storage or a deadlock.
    // With no trainer at all, both metrics are missing and the alarm stays OK (idle is not an error).
    const stalled = new cloudwatch.MathExpression({
      expression: "IF(FILL(alive, 0) > 0 AND FILL(steps, 0) == 0, 1, 0)",
      usingMetrics: {
        alive: trainerMetric(METRIC.heartbeat, "SampleCount"),
        steps: trainerMetric(METRIC.loss, "SampleCount"),
      },
      label: "trainer alive without training steps",
      period: PERIOD,
    });
    this.trainerStalledAlarm = stalled.createAlarm(this, "TrainerStalled", {
      alarmDescription: `A trainer has been alive for ${props.noMetricsAlarmMinutes} minutes without logging a training step: read its log (ijepa aws status)`,
      threshold: 1,
      evaluationPeriods: Math.max(1, Math.ceil(props.noMetricsAlarmMinutes / PERIOD.toMinutes())),
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.trainerStalledAlarm.addAlarmAction(notify);

    this.dashboard = new cloudwatch.Dashboard(this, "Dashboard", {
      defaultInterval: Duration.days(1),
      widgets: [
        [
          perRunGraph("Loss (per run)", METRIC.loss),
          perRunGraph("Images per second (per run)", METRIC.imagesPerSecond),
          perRunGraph("Learning rate (per run)", METRIC.learningRate),
        ],
        [
          new cloudwatch.GraphWidget({
            title: "Probe top-1: encoder vs baselines (all runs)",
            width: 8,
            left: [
              trainerMetric(METRIC.probeLinearTop1, "Maximum", "encoder (linear probe)"),
              trainerMetric(METRIC.probeRawTop1, "Maximum", "raw pixels"),
              trainerMetric(METRIC.probeRandomTop1, "Maximum", "random-init encoder"),
            ],
          }),
          perRunGraph("Collapse: target feature std (per run)", METRIC.targetStd),
          new cloudwatch.GraphWidget({
            title: "Executions and running trainers",
            width: 8,
            left: [
              stateMachine.metricStarted({ period: PERIOD, statistic: "Sum", label: "started" }),
              stateMachine.metricSucceeded({ period: PERIOD, statistic: "Sum", label: "succeeded" }),
              stateMachine.metricFailed({ period: PERIOD, statistic: "Sum", label: "failed" }),
            ],
            // One heartbeat a minute per trainer: the 1-minute sample count is the number of trainers running.
            right: [trainerMetric(METRIC.heartbeat, "SampleCount", "trainers running", Duration.minutes(1))],
          }),
        ],
        [
          new cloudwatch.AlarmStatusWidget({
            title: "Alarms",
            width: 8,
            alarms: [this.executionFailedAlarm, this.trainerStalledAlarm],
          }),
          new cloudwatch.LogQueryWidget({
            title: "Trainer: last errors and spot interruptions",
            width: 16,
            logGroupNames: [props.trainerLogGroup.logGroupName],
            queryLines: [
              "fields @timestamp, @message",
              "filter @message like /(?i)error|SIGTERM|fix:/",
              "sort @timestamp desc",
              "limit 50",
            ],
          }),
        ],
      ],
    });
  }
}

function trainerMetric(name: MetricName, statistic: string, label?: string, period = PERIOD): cloudwatch.Metric {
  return new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName: name, statistic, period, label });
}

/** One line per run: a search over the RunId dimension, so new runs appear without redeploying. */
function perRunGraph(title: string, name: MetricName): cloudwatch.GraphWidget {
  return new cloudwatch.GraphWidget({
    title,
    width: 8,
    left: [
      new cloudwatch.MathExpression({
        expression: `SEARCH('{${METRICS_NAMESPACE},RunId} MetricName="${name}"', 'Average', 300)`,
        label: "",
        period: PERIOD,
      }),
    ],
  });
}
