// Fault injection: two `ijepa train` processes on one run at once → exactly one proceeds, the other is refused.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { loadConfigFile } from "../../trainer/config/load_config.js";
import { readRunLock } from "../../trainer/run/run_lock.js";
import { LocalObjectStore } from "../../trainer/storage/local_store.js";
import { expectLatestComplete } from "./fault_helpers.js";
import { errorLines, runCli } from "./run_cli.js";

describe("concurrent writers on one run", () => {
  it("lets exactly one of two trainers started together proceed; the other exits 1 naming the holder", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ijepa-two-trainers-"));
    const config = await loadConfigFile(path.resolve(__dirname, "../../configs/smoke.yaml"));
    config.logging.checkpoint_every = 5;
    const cfg = path.join(dir, "smoke.yaml");
    writeFileSync(cfg, stringify(config));
    const out = path.join(dir, "run");
    const args = [
      "train",
      "--config",
      cfg,
      "--data",
      "fashion-mnist",
      "--out",
      out,
      "--max-steps",
      "20",
      "--replicas",
      "1",
      "--no-progress",
    ];
    const [a, b] = await Promise.all([runCli(args, { timeoutMs: 240_000 }), runCli(args, { timeoutMs: 240_000 })]);
    expect([a.code, b.code].sort(), `${a.stderr}\n${b.stderr}`).toEqual([0, 1]);
    const refused = a.code === 1 ? a : b;
    // Refused by the lock while the other trains (or, had it started after the other finished, by the finished run).
    expect(errorLines(refused.stderr)[0]).toMatch(/^error: .* (is in use by trainer:\S+ \(since|already holds a run)/);
    expect(errorLines(refused.stderr).length).toBeLessThanOrEqual(2);
    expect(await expectLatestComplete(new LocalObjectStore(out))).toBe(20);
    expect(await readRunLock(new LocalObjectStore(out))).toMatchObject({ state: "released" });
  }, 300_000);
});
