// The trainer's Dockerfile: lint-clean (dockerfile-utils) and holding what the GPU job relies on.
import { readFileSync } from "node:fs";
import { validate, ValidationSeverity, type ValidatorSettings } from "dockerfile-utils";
import { describe, expect, it } from "vitest";

const dockerfile = readFileSync(new URL("../../trainer/Dockerfile", import.meta.url), "utf8");
const strict: ValidatorSettings = {
  deprecatedMaintainer: ValidationSeverity.ERROR,
  directiveCasing: ValidationSeverity.ERROR,
  emptyContinuationLine: ValidationSeverity.ERROR,
  instructionCasing: ValidationSeverity.ERROR,
  instructionCmdMultiple: ValidationSeverity.ERROR,
  instructionEntrypointMultiple: ValidationSeverity.ERROR,
  instructionHealthcheckMultiple: ValidationSeverity.ERROR,
  instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
  instructionWorkdirRelative: ValidationSeverity.ERROR,
};
const lines = dockerfile.split("\n").filter((l) => !l.startsWith("#"));
const finalStage = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));

describe("trainer/Dockerfile", () => {
  it("passes dockerfile-utils with every rule an error", () => {
    expect(validate(dockerfile, strict).map((d) => `${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
  });

  it("is a Dockerfile the linter can fail (a broken copy is reported)", () => {
    expect(validate(dockerfile.replace("WORKDIR /app", "WORKDIR app"), strict)).toHaveLength(1);
    expect(validate(dockerfile.replace("USER ijepa", "user ijepa"), strict)).toHaveLength(1);
  });

  it("runs on the CUDA 11.8 + cuDNN 8 runtime and checks libtensorflow 2.9.1's sonames there", () => {
    expect(finalStage).toMatch(/^\nFROM nvidia\/cuda:11\.8\.\d+-cudnn8-runtime-ubuntu22\.04/);
    for (const so of [
      "libcudart.so.11.0",
      "libcublas.so.11",
      "libcublasLt.so.11",
      "libcufft.so.10",
      "libcurand.so.10",
      "libcusolver.so.11",
      "libcusparse.so.11",
      "libcudnn.so.8",
    ]) {
      expect(finalStage).toContain(so);
    }
  });

  it("installs production dependencies with tfjs-node-gpu for real, on Node 22", () => {
    expect(dockerfile).toMatch(/ARG NODE_MAJOR=22/);
    expect(lines.join("\n")).toMatch(/npm ci --omit=dev/);
    expect(lines.join("\n")).toMatch(/test -f node_modules\/@tensorflow\/tfjs-node-gpu\/package\.json/);
  });

  it("runs the CLI as a non-root user, so the job's command is `train …`", () => {
    const user = /^USER (\S+)$/m.exec(finalStage)?.[1];
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)$/);
    expect(finalStage).toMatch(/^ENTRYPOINT \["node", "\/app\/bin\/ijepa\.js"\]$/m);
    expect(finalStage.indexOf("USER ")).toBeLessThan(finalStage.indexOf("ENTRYPOINT"));
  });
});
