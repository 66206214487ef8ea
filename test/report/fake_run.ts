// Test fixture: a realistic fake run (noisy decaying loss, I-JEPA schedules, epochs, probes, a resume) written as metrics.jsonl lines.
import type { EmbeddingProjectionDocument, ProbeEmbeddingDocument } from "../../trainer/run/probe_embedding.js";
import { CONFIG_KEY, METRICS_KEY, PROBE_HISTORY_KEY, probeEmbeddingKey } from "../../trainer/run/run_layout.js";
import type { ObjectStore } from "../../trainer/storage/object_store.js";
import type { EpochRecord, StartRecord, StepRecord } from "../../trainer/run/metrics_record.js";
import type { ProbeHistoryRecord } from "../../trainer/run/probe_record.js";
import { Rng } from "../../trainer/utils/rng.js";

export interface FakeRunOptions {
  totalSteps?: number;
  epochs?: number;
  logEvery?: number;
  probeSteps?: number[];
  /** The first process logs up to `crashAfter`, then a second resumes from the checkpoint at `from`. */
  resume?: { crashAfter: number; from: number } | null;
  /** Steps whose loss is logged as NaN (JSON null, the way JSON.stringify writes it). */
  nonFiniteLossAt?: number[];
  /** From this epoch on, target std falls under the threshold and the trainer's warning is set. */
  collapseFromEpoch?: number;
  collapseStdThreshold?: number;
  seed?: number;
  /** Write probe/<last probe step>.embedding.json (default true when there are probes). */
  embedding?: boolean;
}

/** How much higher the abandoned (pre-resume) timeline's loss is, so tests can tell its points apart. */
export const ABANDONED_LOSS_OFFSET = 0.25;

const START_TIME = Date.parse("2025-03-01T08:00:00Z");
const MS_PER_STEP = 350;
const BATCH_SIZE = 128;

/** The noise-free loss curve the fake run follows: a fast early drop, then a slow decay to a floor. */
export function fakeLossTrend(step: number): number {
  return 0.11 + 0.5 * Math.exp(-step / 450) + 0.25 * Math.exp(-step / 40);
}

/** metrics.jsonl lines, in the order a real run (with its resume) would append them. */
export function fakeMetricsLines(options: FakeRunOptions = {}): string[] {
  const total = options.totalSteps ?? 2000;
  const epochs = options.epochs ?? 5;
  const logEvery = options.logEvery ?? 10;
  const stepsPerEpoch = Math.floor(total / epochs);
  const resume = options.resume === undefined ? { crashAfter: 1330, from: 1200 } : options.resume;
  const nanAt = new Set(options.nonFiniteLossAt ?? []);
  const threshold = options.collapseStdThreshold ?? 0.05;
  const rng = Rng.fromSeed(options.seed ?? 7, "fake-run");
  const lines: string[] = [];
  const timeOf = (step: number, lateMs = 0): string => new Date(START_TIME + step * MS_PER_STEP + lateMs).toISOString();

  const start = (step: number, resumed: boolean, lateMs: number): void => {
    const record: StartRecord = {
      type: "start",
      time: timeOf(step, lateMs),
      step,
      backend: "tensorflow",
      threads: 8,
      replicas: 1,
      resumed,
      configName: "fmnist_vit_tiny",
    };
    lines.push(JSON.stringify(record));
  };
  const log = (from: number, to: number, abandoned: boolean, lateMs: number): void => {
    for (let step = from; step <= to; step++) {
      if (step % logEvery === 0) {
        const noise = 1 + 0.08 * rng.normal();
        const loss = nanAt.has(step) ? NaN : (fakeLossTrend(step) + (abandoned ? ABANDONED_LOSS_OFFSET : 0)) * noise;
        const ms = MS_PER_STEP * (1 + 0.05 * rng.normal());
        const record: StepRecord = {
          type: "step",
          time: timeOf(step, lateMs),
          step,
          // Step s is logged after s updates, so step 400 is the last of epoch 0.
          epoch: step === 0 ? 0 : Math.floor((step - 1) / stepsPerEpoch),
          loss,
          ...schedulesAt(step, total, stepsPerEpoch),
          imgPerSec: (BATCH_SIZE * 1000) / ms,
          msPerStep: ms,
          contextPatches: 30 + rng.int(0, 12),
          targetPatches: 9 + rng.int(0, 6),
        };
        lines.push(JSON.stringify(record));
      }
      if (step > 0 && step % stepsPerEpoch === 0) {
        const epoch = step / stepsPerEpoch - 1;
        const collapsing = options.collapseFromEpoch !== undefined && epoch >= options.collapseFromEpoch;
        const targetStd = collapsing ? threshold * 0.4 : 0.62 - 0.05 * epoch + 0.01 * rng.normal();
        const record: EpochRecord = {
          type: "epoch",
          time: timeOf(step, lateMs),
          step,
          epoch,
          meanLoss: meanTrend(step - stepsPerEpoch, step) + (abandoned ? ABANDONED_LOSS_OFFSET : 0),
          targetStd,
          effectiveRank: collapsing ? 1.6 : 38 + 14 * epoch + 2 * rng.normal(),
          collapseWarning: targetStd < threshold,
        };
        lines.push(JSON.stringify(record));
      }
    }
  };

  start(0, false, 0);
  if (resume) {
    log(0, resume.from, false, 0);
    log(resume.from + 1, resume.crashAfter, true, 0);
    // The job dies; a new one starts ten minutes later from the checkpoint at `from` and redoes the lost steps.
    const lateMs = 10 * 60_000 + (resume.crashAfter - resume.from) * MS_PER_STEP;
    start(resume.from, true, lateMs);
    log(resume.from + 1, total, false, lateMs);
  } else {
    log(0, total, false, 0);
  }
  return lines;
}

/** probe/history.jsonl lines: linear and kNN accuracy climbing towards (but below) the raw-pixel baseline. */
export function fakeProbeLines(options: FakeRunOptions = {}): string[] {
  const total = options.totalSteps ?? 2000;
  const probeSteps = options.probeSteps ?? [Math.round(total * 0.4), Math.round(total * 0.8), total];
  return probeSteps.map((step, i) => {
    const progress = 1 - Math.exp(-step / 900);
    const record: ProbeHistoryRecord = {
      step,
      time: new Date(START_TIME + step * MS_PER_STEP + 15 * 60_000).toISOString(),
      dataset: "fashion-mnist",
      linearTop1: 0.68 + 0.14 * progress,
      linearTop5: 0.95 + 0.04 * progress,
      knnTop1: 0.63 + 0.15 * progress,
    };
    if (i === 0) {
      record.baselines = { raw: { linearTop1: 0.841, knnTop1: 0.855 }, random: { linearTop1: 0.682, knnTop1: 0.615 } };
    }
    return JSON.stringify(record);
  });
}

/** Writes metrics.jsonl, probe/history.jsonl and a config.yaml with the collapse threshold into a run's store. */
export async function writeFakeRun(store: ObjectStore, options: FakeRunOptions = {}): Promise<void> {
  await store.put(METRICS_KEY, fakeMetricsLines(options).join("\n") + "\n");
  if ((options.probeSteps ?? [1]).length) await store.put(PROBE_HISTORY_KEY, fakeProbeLines(options).join("\n") + "\n");
  await store.put(
    CONFIG_KEY,
    `logging:\n  log_every: ${options.logEvery ?? 10}\n  collapse_std_threshold: ${options.collapseStdThreshold ?? 0.05}\n`,
  );
  const probeSteps = fakeProbeLines(options).map((l) => JSON.parse(l).step as number);
  if (options.embedding !== false && (options.probeSteps ?? [1]).length) {
    const doc = fakeEmbedding(probeSteps[probeSteps.length - 1]);
    await store.put(probeEmbeddingKey(doc.step), JSON.stringify(doc));
  }
}

export const FASHION_MNIST_CLASSES = [
  ...["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat"],
  ...["Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
];

/**
 * A probe's embedding document: at random init the ten classes overlap in one blob; after pretraining
 * each class sits in its own cluster on a ring (what a user hopes to see).
 */
export function fakeEmbedding(step: number, count = 1000, seed = 3): ProbeEmbeddingDocument {
  const rng = Rng.fromSeed(seed, "fake-embedding");
  const labels = Array.from({ length: count }, (_, i) => i % 10);
  const cloud = (spread: number, ring: number): EmbeddingProjectionDocument => ({
    count,
    dim: 192,
    x: labels.map((l) => ring * Math.cos((2 * Math.PI * l) / 10) + spread * rng.normal()),
    y: labels.map((l) => ring * Math.sin((2 * Math.PI * l) / 10) + spread * rng.normal()),
    labels,
    explainedVariance: ring > 1 ? [0.31, 0.18] : [0.08, 0.05],
  });
  const classNames = FASHION_MNIST_CLASSES;
  return { step, dataset: "fashion-mnist", classNames, trained: cloud(1, 6), randomInit: cloud(2, 0.5) };
}

/** The official I-JEPA schedules: linear warmup then cosine lr, cosine wd 0.04 → 0.4, linear EMA momentum 0.996 → 1. */
function schedulesAt(step: number, total: number, stepsPerEpoch: number): { lr: number; wd: number; momentum: number } {
  const warmup = stepsPerEpoch;
  const startLr = 2e-4;
  const peakLr = 1e-3;
  const finalLr = 1e-6;
  let lr: number;
  if (step < warmup) lr = startLr + (peakLr - startLr) * (step / warmup);
  else {
    const progress = (step - warmup) / Math.max(1, total - warmup);
    lr = finalLr + 0.5 * (peakLr - finalLr) * (1 + Math.cos(Math.PI * progress));
  }
  const wd = 0.4 + 0.5 * (0.04 - 0.4) * (1 + Math.cos((Math.PI * step) / total));
  const momentum = 0.996 + (1 - 0.996) * (step / total);
  return { lr, wd, momentum };
}

function meanTrend(from: number, to: number): number {
  let sum = 0;
  for (let s = from; s < to; s++) sum += fakeLossTrend(s);
  return sum / (to - from);
}
