// Finding the deployed stack from a terminal: flags, environment, cdk-outputs.json.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readDeployedStack, regionOfArn } from "../../../bin/aws/stack_outputs.js";
import { OUTPUT } from "../../../lib/ijepa_stack.js";

const dir = mkdtempSync(path.join(tmpdir(), "ijepa-outputs-"));
const file = path.join(dir, "cdk-outputs.json");
writeFileSync(
  file,
  JSON.stringify({
    Ijepa: {
      [OUTPUT.stateMachineArn]: "arn:aws:states:eu-west-1:1:stateMachine:Ijepa-Training",
      [OUTPUT.runsBucket]: "ijepa-runs",
    },
  }),
);

describe("readDeployedStack", () => {
  it("reads the outputs `cdk deploy --outputs-file` wrote, under the names the stack outputs", () => {
    expect(readDeployedStack({ outputs: file }, {})).toEqual({
      stateMachineArn: "arn:aws:states:eu-west-1:1:stateMachine:Ijepa-Training",
      runsBucket: "ijepa-runs",
    });
  });

  it("lets a flag, then the environment, override the file", () => {
    expect(
      readDeployedStack({ outputs: file, stateMachine: "arn:flag" }, { IJEPA_STATE_MACHINE_ARN: "arn:env" })
        .stateMachineArn,
    ).toBe("arn:flag");
    expect(readDeployedStack({ outputs: file }, { IJEPA_STATE_MACHINE_ARN: "arn:env" }).stateMachineArn).toBe(
      "arn:env",
    );
  });

  it("names a missing or broken outputs file", () => {
    expect(() => readDeployedStack({ outputs: path.join(dir, "nope.json") }, {})).toThrow(/outputs file not found/);
    const broken = path.join(dir, "broken.json");
    writeFileSync(broken, "{");
    expect(() => readDeployedStack({ outputs: broken }, {})).toThrow(/broken\.json: not valid JSON/);
    expect(readDeployedStack({}, {}, path.join(dir, "absent-default.json"))).toEqual({
      stateMachineArn: undefined,
      runsBucket: undefined,
    });
  });

  it("takes the region from an ARN", () => {
    expect(regionOfArn("arn:aws:states:ap-southeast-2:1:execution:a:b")).toBe("ap-southeast-2");
  });
});
