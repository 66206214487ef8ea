// The trainer's state in state.json: checked against its schema when read, with one line naming the file and the field.
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadConfigFile } from "../../trainer/config/load_config.js";
import { CorruptDataError } from "../../trainer/errors.js";
import { type TrainState, parseEncoderState, parseTrainState } from "../../trainer/run/checkpoint_state.js";
import { assembleTrainState } from "../../trainer/train/train_checkpoint.js";
import { schedulesFromConfig } from "../../trainer/train/training_schedules.js";

const URI = "/runs/r1/checkpoints/00000040/state.json";
let state: TrainState;

beforeAll(async () => {
  const config = await loadConfigFile(path.resolve(import.meta.dirname, "../../configs/smoke.yaml"));
  const o = config.optimization;
  const schedules = schedulesFromConfig(o, 20);
  state = assembleTrainState({
    step: 40,
    itersPerEpoch: 20,
    seed: 7,
    configName: "smoke",
    config,
    data: "fashion-mnist",
    backend: "wasm",
    replicas: 2,
    optimizerStep: 40,
    normalization: { mean: [0.286], std: [0.353] },
    schedules,
  });
});

/** The state as it comes back from disk. */
const stored = (s: unknown) => JSON.parse(JSON.stringify(s)) as Record<string, unknown>;

describe("parseTrainState (resuming)", () => {
  it("reads back what the trainer writes", () => {
    expect(parseTrainState(stored(state), URI)).toEqual(state);
    expect(state).toMatchObject({ epochsCompleted: 2, rng: { seed: 7, nextStep: 40 } });
  });

  it("refuses a state that lacks a field, in one line naming the file and the field", () => {
    const { normalization: _, ...older } = stored(state);
    const err = (() => {
      try {
        parseTrainState(older, URI);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(CorruptDataError);
    expect(err?.message.split("\n")[0]).toContain(URI);
    expect(err?.message.split("\n")[0]).toContain("state: normalization: ");
  });

  it("checks the config inside it against the config schema", () => {
    const bad = stored(state);
    (bad.config as { data: { crop_size: unknown } }).data.crop_size = "28";
    expect(() => parseTrainState(bad, URI)).toThrow(/state: config\.data\.crop_size/);
  });

  it("refuses the state of another step than the checkpoint's", () => {
    expect(() => parseTrainState({ ...stored(state), step: 7 }, URI, 40)).toThrow(
      /state\.step is 7, but this is the checkpoint of step 40/,
    );
    expect(parseTrainState(stored(state), URI, 40).step).toBe(40);
  });

  it("refuses a normalization std of 0, which would make every pixel infinite", () => {
    const bad = { ...stored(state), normalization: { mean: [0.5], std: [0] } };
    expect(() => parseTrainState(bad, URI)).toThrow(/normalization\.std\.0: expected a positive std/);
  });
});

describe("parseEncoderState (probe and export)", () => {
  it("accepts a checkpoint written before normalization was recorded", () => {
    const { normalization: _, configName: __, ...older } = stored(state);
    const read = parseEncoderState(older, URI);
    expect(read.normalization).toBeUndefined();
    expect(read.config.meta.model_name).toBe(state.config.meta.model_name);
  });

  it("refuses a state without a config: the model cannot be built", () => {
    const { config: _, ...noConfig } = stored(state);
    expect(() => parseEncoderState(noConfig, URI)).toThrow(CorruptDataError);
    expect(() => parseEncoderState(noConfig, URI)).toThrow(/state: config: /);
  });

  it("refuses non-finite normalization values", () => {
    const bad = { ...stored(state), normalization: { mean: [null], std: [0.3] } };
    expect(() => parseEncoderState(bad, URI)).toThrow(/state: normalization\.mean\.0/);
  });
});
