// The console's execution input: defaults, one-line errors naming each field, and the run an input names.
import { describe, expect, it } from "vitest";
import { SOURCE_FORMATS } from "../../trainer/data/shard_input.js";
import { ConfigError } from "../../trainer/errors.js";
import {
  DATASET_FORMATS,
  datasetName,
  defaultRunId,
  parseExecutionInput,
  runIdOfRawInput,
} from "../../trainer/run/execution_input.js";

describe("the execution input", () => {
  it("fills in the defaults of an empty input: Fashion-MNIST, fmnist-vit-tiny, one-epoch segments, the config's probe sizes", () => {
    expect(parseExecutionInput({})).toEqual({
      dataset: "fashion-mnist",
      format: "idx",
      config: "fmnist-vit-tiny",
      segmentEpochs: 1,
      keepLast: 2,
      keepBest: 1,
      keepEvery: 0,
    });
    expect(parseExecutionInput(undefined).config).toBe("fmnist-vit-tiny");
  });

  it("refuses unknown fields and bad values in one line naming each", () => {
    const err = (() => {
      try {
        parseExecutionInput({ epochs: 0, format: "png", extra: 1 });
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err?.message.split("\n")[0]).toMatch(
      /^invalid execution input: format: .*; epochs: .*; input: .*\(extra\)$/,
    );
  });

  it("accepts the formats ShardDataset reads, and only those", () => {
    expect([...DATASET_FORMATS]).toEqual([...SOURCE_FORMATS]);
  });

  it("names the dataset after its folder and the run after dataset and config", () => {
    expect(datasetName({ dataset: "s3://bucket/raw/my images/" })).toBe("my-images");
    expect(defaultRunId({ dataset: "fashion-mnist", config: "configs/smoke.yaml" })).toBe("fashion-mnist-smoke");
    expect(defaultRunId({ dataset: "fashion-mnist", config: "smoke", runId: "mine" })).toBe("mine");
    expect(() => datasetName({ dataset: "/" })).toThrow(ConfigError);
  });

  it("names the run of an input whose other fields are invalid, and none when its naming fields are", () => {
    expect(runIdOfRawInput({ runId: "r1", epochs: -3 })).toBe("r1");
    expect(runIdOfRawInput({ config: "smoke", keepLast: "x" })).toBe("fashion-mnist-smoke");
    expect(runIdOfRawInput({ runId: "no spaces" })).toBeUndefined();
    expect(runIdOfRawInput("not an object")).toBeUndefined();
    expect(runIdOfRawInput(undefined)).toBe("fashion-mnist-fmnist-vit-tiny");
  });
});
