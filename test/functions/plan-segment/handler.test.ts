// PlanSegment: what comes next on a run, from its checkpoints and probes alone (the decisions the imperative
// local pipeline used to make), and the trainer job's parameters it hands to TrainSegment.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeHandler } from "../../../functions/plan-segment/handler.js";
import { saveCheckpoint } from "../../../trainer/checkpoint/checkpoint_store.js";
import { probeKey } from "../../../trainer/run/run_layout.js";
import { NoProgressError, planSegment } from "../../../trainer/run/segment_plan.js";
import { openStore } from "../../../trainer/storage/open_store.js";
import { sampleCheckpoint } from "../../checkpoint/fixtures.js";

const goal = { epochs: 3, segmentEpochs: 1, maxSteps: 0 };
const start = { action: "start" as const, step: -1 };

describe("planSegment", () => {
  it("trains the first segment of a new run", () => {
    expect(planSegment(goal, { latest: undefined, latestProbed: false, previous: start })).toMatchObject({
      action: "train",
      untilEpoch: 1,
      step: 0,
    });
  });

  it("probes a segment that was trained but never probed before training on", () => {
    expect(planSegment(goal, { latest: { step: 40, epoch: 1 }, latestProbed: false, previous: start })).toMatchObject({
      action: "probe",
      step: 40,
    });
  });

  it("trains up to segmentEpochs more, never past the run's epochs", () => {
    expect(
      planSegment(
        { ...goal, segmentEpochs: 2 },
        { latest: { step: 40, epoch: 2 }, latestProbed: true, previous: start },
      ),
    ).toMatchObject({ action: "train", untilEpoch: 3 });
  });

  it("is done when all epochs are complete or the step cap is reached", () => {
    expect(planSegment(goal, { latest: { step: 120, epoch: 3 }, latestProbed: true, previous: start }).action).toBe(
      "done",
    );
    expect(
      planSegment({ ...goal, maxSteps: 30 }, { latest: { step: 30, epoch: 0 }, latestProbed: true, previous: start })
        .action,
    ).toBe("done");
  });

  it("fails instead of training the same segment forever when a segment wrote no newer checkpoint", () => {
    expect(() =>
      planSegment(goal, {
        latest: { step: 40, epoch: 1 },
        latestProbed: true,
        previous: { action: "train", step: 40 },
      }),
    ).toThrow(NoProgressError);
  });
});

describe("plan-segment handler", () => {
  it("reads the run and hands TrainSegment string parameters and the step cap", async () => {
    const root = mkdtempSync(path.join(tmpdir(), "ijepa-plan-"));
    const runUri = path.join(root, "my.run");
    const handler = makeHandler({ openStore, env: {}, now: () => new Date() });
    const event = {
      run: { runId: "my.run", runUri, configUri: `${runUri}/config.yaml`, epochs: 3, segmentEpochs: 1, maxSteps: 25 },
      dataset: { manifestUri: "/d/manifest.json" },
      previous: start,
    };
    const first = await handler(event);
    expect(first).toMatchObject({
      action: "train",
      jobName: "my_run-epoch-1-1",
      batchParameters: {
        config: `${runUri}/config.yaml`,
        data: "/d/manifest.json",
        out: runUri,
        epochs: "3",
        untilEpoch: "1",
      },
      maxStepsEnv: "25",
    });
    const store = openStore(runUri);
    await saveCheckpoint(store, sampleCheckpoint(12, 1, 1));
    expect(await handler({ ...event, previous: { action: "train", step: 0 } })).toMatchObject({
      action: "probe",
      step: 12,
    });
    await store.put(probeKey(12), "{}");
    expect(await handler({ ...event, previous: { action: "probe", step: 12 } })).toMatchObject({
      action: "train",
      untilEpoch: 2,
      jobName: "my_run-epoch-2-2",
    });
  });

  it("names the field of a malformed event", async () => {
    const handler = makeHandler({ openStore, env: {}, now: () => new Date() });
    await expect(handler({ run: {}, dataset: {}, previous: start })).rejects.toThrow(
      /invalid plan-segment event: run\.runId/,
    );
  });
});
