// Tests of the rotation planner (table-driven and property-based over random histories), and the store-level suite on local folders.
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { ConfigError } from "../../trainer/errors.js";
import {
  type RotationCandidate,
  type RotationHistory,
  type RotationPolicy,
  planRotation,
} from "../../trainer/checkpoint/rotation.js";
import { localStoreFactory } from "./fixtures.js";
import { describeCheckpointRotation } from "./rotation.suite.js";

const complete = (...steps: number[]): RotationCandidate[] => steps.map((step) => ({ step, complete: true }));

describe("planRotation, concrete cases", () => {
  const cases: Array<{
    what: string;
    history: RotationHistory;
    policy: RotationPolicy;
    keep: number[];
    reasonsOf?: Record<number, string[]>;
  }> = [
    {
      what: "keeps the last K, the best and the multiples of N; deletes the rest",
      history: {
        checkpoints: complete(10, 20, 30, 40, 50, 60),
        latestStep: 60,
        scores: new Map([
          [20, 0.7],
          [30, 0.9],
          [50, 0.8],
        ]),
      },
      policy: { keepLast: 2, keepBest: 1, keepEvery: 40 },
      keep: [30, 40, 50, 60],
      reasonsOf: {
        30: ["best linearTop1 #1 (0.9)"],
        40: ["step is a multiple of 40"],
        50: ["one of the last 2"],
        60: ["latest.json points here", "one of the last 2"],
      },
    },
    {
      what: "keeps the top B scores, ties going to the later step",
      history: {
        checkpoints: complete(10, 20, 30, 40),
        latestStep: 40,
        scores: new Map([
          [10, 0.5],
          [20, 0.5],
          [30, 0.1],
        ]),
      },
      policy: { keepLast: 0, keepBest: 1, keepEvery: 0 },
      keep: [20, 40],
    },
    {
      what: "keeps the best even when keepBest is 0",
      history: {
        checkpoints: complete(10, 20, 30),
        latestStep: 30,
        scores: new Map([
          [10, 0.9],
          [20, 0.1],
        ]),
      },
      policy: { keepLast: 0, keepBest: 0, keepEvery: 0 },
      keep: [10, 30],
    },
    {
      what: "never deletes an incomplete checkpoint, and does not count it among the last K",
      history: {
        checkpoints: [...complete(10, 20, 30), { step: 40, complete: false }],
        latestStep: 30,
        scores: new Map(),
      },
      policy: { keepLast: 2, keepBest: 0, keepEvery: 0 },
      keep: [20, 30, 40],
      reasonsOf: { 40: ["incomplete: a save may be in progress"] },
    },
    {
      what: "keeps complete checkpoints newer than latest.json (a save about to publish)",
      history: { checkpoints: complete(10, 20, 30), latestStep: 20, scores: new Map() },
      policy: { keepLast: 0, keepBest: 0, keepEvery: 0 },
      keep: [20, 30],
    },
    {
      what: "deletes nothing while there is no latest.json",
      history: { checkpoints: complete(10, 20, 30), scores: new Map() },
      policy: { keepLast: 0, keepBest: 0, keepEvery: 0 },
      keep: [10, 20, 30],
    },
    {
      what: "finishes deleting a folder a rotation began deleting, unless latest.json points at it",
      history: {
        checkpoints: [
          { step: 10, complete: false, deleting: true },
          { step: 20, complete: false, deleting: true },
          ...complete(30),
        ],
        latestStep: 20,
        scores: new Map(),
      },
      policy: { keepLast: 5, keepBest: 5, keepEvery: 10 },
      keep: [20, 30],
    },
    {
      what: "ignores scores of steps that have no complete checkpoint",
      history: {
        checkpoints: [...complete(10, 20), { step: 30, complete: false }],
        latestStep: 20,
        scores: new Map([
          [5, 1.0],
          [30, 0.99],
          [10, 0.5],
          [20, 0.4],
        ]),
      },
      policy: { keepLast: 0, keepBest: 1, keepEvery: 0 },
      keep: [10, 20, 30],
      reasonsOf: { 10: ["best linearTop1 #1 (0.5)"] },
    },
    {
      what: "ranks by the policy's metric name in the reasons",
      history: { checkpoints: complete(10, 20), latestStep: 20, scores: new Map([[10, 0.3]]) },
      policy: { keepLast: 0, keepBest: 1, keepEvery: 0, metric: "knnTop1" },
      keep: [10, 20],
      reasonsOf: { 10: ["best knnTop1 #1 (0.3)"] },
    },
  ];
  it.each(cases)("$what", ({ history, policy, keep, reasonsOf }) => {
    const plan = planRotation(history, policy);
    expect(plan.keep).toEqual(keep);
    expect(plan.delete).toEqual(
      history.checkpoints
        .map((c) => c.step)
        .filter((s) => !keep.includes(s))
        .sort((a, b) => a - b),
    );
    for (const [step, reasons] of Object.entries(reasonsOf ?? {}))
      expect(plan.reasons.get(Number(step))).toEqual(reasons);
  });

  it.each([
    ["keepLast", { keepLast: -1, keepBest: 0, keepEvery: 0 }],
    ["keepBest", { keepLast: 1, keepBest: 1.5, keepEvery: 0 }],
    ["keepEvery", { keepLast: 1, keepBest: 1, keepEvery: Number.NaN }],
    ["metric", { keepLast: 1, keepBest: 1, keepEvery: 0, metric: "top1" as never }],
  ])("rejects a policy with a bad %s, naming it", (field, policy) => {
    expect(() => planRotation({ checkpoints: [], scores: new Map() }, policy)).toThrow(ConfigError);
    expect(() => planRotation({ checkpoints: [], scores: new Map() }, policy)).toThrow(field);
  });
});

describe("planRotation invariants over random histories", () => {
  const historyArb = fc.uniqueArray(fc.integer({ min: 0, max: 400 }), { maxLength: 14 }).chain((steps) =>
    fc.record({
      checkpoints: fc.tuple(
        ...steps.map((step) =>
          fc
            .constantFrom<Omit<RotationCandidate, "step">>(
              { complete: true },
              { complete: true },
              { complete: true },
              { complete: false },
              { complete: false, deleting: true },
            )
            .map((c) => ({ step, ...c })),
        ),
      ),
      latestStep: fc.option(
        steps.length > 0
          ? fc.oneof(fc.constantFrom(...steps), fc.integer({ min: 0, max: 400 }))
          : fc.integer({ min: 0, max: 400 }),
        { nil: undefined },
      ),
      scores: fc
        .array(fc.tuple(fc.constantFrom(...steps, 999), fc.constantFrom(0.1, 0.5, 0.5, 0.9, Number.NaN)), {
          maxLength: 10,
        })
        .map((pairs) => new Map(pairs)),
    }),
  );
  const policyArb = fc.record({
    keepLast: fc.integer({ min: 0, max: 5 }),
    keepBest: fc.integer({ min: 0, max: 4 }),
    keepEvery: fc.constantFrom(0, 1, 3, 20, 50, 100),
  });

  /** The best complete scored checkpoint by (score, then later step), independently of the planner. */
  function bestStep(history: RotationHistory): number | undefined {
    let best: { step: number; score: number } | undefined;
    for (const c of history.checkpoints) {
      const score = history.scores.get(c.step);
      if (!c.complete || c.deleting || score === undefined || !Number.isFinite(score)) continue;
      if (!best || score > best.score || (score === best.score && c.step > best.step)) best = { step: c.step, score };
    }
    return best?.step;
  }

  it("always keeps latest, the best, incomplete ones and ones newer than latest; keeps what each rule asks; deletes all else", () => {
    fc.assert(
      fc.property(historyArb, policyArb, (history, policy) => {
        const plan = planRotation(history, policy);
        const deleted = new Set(plan.delete);
        const allSteps = history.checkpoints.map((c) => c.step).sort((a, b) => a - b);
        expect([...plan.keep, ...plan.delete].sort((a, b) => a - b)).toEqual(allSteps);
        expect(plan.keep.filter((s) => deleted.has(s))).toEqual([]);

        if (history.latestStep !== undefined) expect(deleted.has(history.latestStep)).toBe(false);
        const best = bestStep(history);
        if (best !== undefined) expect(deleted.has(best)).toBe(false);

        const live = history.checkpoints.filter((c) => !c.deleting);
        const completeSteps = live
          .filter((c) => c.complete)
          .map((c) => c.step)
          .sort((a, b) => a - b);
        for (const c of live) {
          if (!c.complete) expect(deleted.has(c.step), `incomplete ${c.step}`).toBe(false);
          if (c.complete && (history.latestStep === undefined || c.step > history.latestStep))
            expect(deleted.has(c.step)).toBe(false);
        }
        for (const s of completeSteps.slice(Math.max(0, completeSteps.length - policy.keepLast)))
          expect(deleted.has(s)).toBe(false);
        if (policy.keepEvery > 0)
          for (const s of completeSteps) if (s % policy.keepEvery === 0) expect(deleted.has(s)).toBe(false);
        const ranked = completeSteps
          .filter((s) => Number.isFinite(history.scores.get(s)))
          .sort((a, b) => history.scores.get(b)! - history.scores.get(a)! || b - a);
        for (const s of ranked.slice(0, policy.keepBest)) expect(deleted.has(s)).toBe(false);

        // Nothing is kept without a reason, and a deleted one is either half-deleted already or covered by no rule.
        for (const s of plan.keep) expect(plan.reasons.get(s)?.length).toBeGreaterThan(0);
        for (const s of plan.delete) {
          const c = history.checkpoints.find((x) => x.step === s)!;
          expect(c.deleting === true || c.complete).toBe(true);
          expect(plan.reasons.has(s)).toBe(false);
        }
      }),
      { numRuns: 400 },
    );
  });

  it("is idempotent: planning again over what was kept deletes nothing", () => {
    fc.assert(
      fc.property(historyArb, policyArb, (history, policy) => {
        const first = planRotation(history, policy);
        const kept = new Set(first.keep);
        const after: RotationHistory = { ...history, checkpoints: history.checkpoints.filter((c) => kept.has(c.step)) };
        const second = planRotation(after, policy);
        expect(second.delete).toEqual([]);
        expect(second.keep).toEqual(first.keep);
      }),
      { numRuns: 400 },
    );
  });
});

const { makeStore, cleanup } = localStoreFactory();
afterAll(cleanup);
describeCheckpointRotation(makeStore);
