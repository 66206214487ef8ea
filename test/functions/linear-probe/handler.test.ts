// The linear-probe Lambda handler on a tiny trained run: events validated field by field, pointers and scores returned.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { makeHandler } from "../../../functions/linear-probe/handler.js";
import { initBackend } from "../../../trainer/backend.js";
import { loadConfigFile } from "../../../trainer/config/load_config.js";
import { ConfigError } from "../../../trainer/errors.js";
import { train } from "../../../trainer/train/train_loop.js";
import { testDeps } from "../../support/handler_deps.js";

const root = path.resolve(__dirname, "../../..");
let run: string;

beforeAll(async () => {
  await initBackend("wasm");
  const config = await loadConfigFile(path.join(root, "configs/smoke.yaml"));
  run = mkdtempSync(path.join(tmpdir(), "ijepa-probe-lambda-"));
  const options = { config, configName: "smoke", data: "fashion-mnist", out: run, maxSteps: 3, replicas: 1 };
  await train({ ...options, log: () => {} });
});

describe("linear-probe handler", () => {
  it("rejects a malformed event, naming the field and showing an event that works", async () => {
    const handler = makeHandler(testDeps());
    const err = await handler({ checkpoint: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(
      /^invalid linear-probe event: checkpoint: .*\n {2}fix: send \{"checkpoint": /,
    );
    await expect(handler({ checkpoint: run, trainLimit: -1 })).rejects.toThrow(/trainLimit/);
    await expect(handler({ checkpoint: run, baselines: ["pixels"] })).rejects.toThrow(/baselines\.0: /);
  });

  it("refuses a backend the environment names that does not exist", async () => {
    const handler = makeHandler(testDeps(undefined, { IJEPA_BACKEND: "quantum" }));
    await expect(handler({ checkpoint: run })).rejects.toThrow(/unknown backend "quantum"/);
  });

  it("returns pointers and scores, not data", async () => {
    const r = await makeHandler(testDeps(undefined, { IJEPA_BACKEND: "wasm" }))({
      checkpoint: run,
      trainLimit: 300,
      testLimit: 200,
      baselines: [],
    });
    expect(r.step).toBe(3);
    expect(r.probeUri).toBe(path.join(run, "probe/00000003.json"));
    expect(r.linearTop1).toBeGreaterThan(0.3);
    expect(r.baselines).toEqual({});
  });
});
