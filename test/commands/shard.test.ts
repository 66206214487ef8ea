// `ijepa shard` output: plain progress lines off a TTY, a bar on one, and a summary with counts, shards, rejections and time.
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../trainer/errors.js";
import { runShardCommand } from "../../bin/commands/shard.js";
import { captureIo } from "../support/capture_io.js";
import { writeIdxFolder, writeImageFolder } from "../data/fixtures.js";
import { tempDir } from "../support/temp_dir.js";

describe("runShardCommand", () => {
  it("prints plain progress lines when stderr is not a terminal, then the summary", async () => {
    const src = await writeImageFolder(tempDir(), ["a", "b"], 3, 16);
    await fs.writeFile(path.join(src, "a", "broken.jpg"), "not a jpeg");
    const out = tempDir();
    const c = captureIo(false);
    const result = await runShardCommand(
      { source: src, format: "imagefolder", out, resolution: 8, shardSize: 2, testFraction: 0 },
      c.io,
    );
    expect(result.counts.train).toBe(6);
    expect(c.stderr()).toMatch(/^shard: plan: 0\/7 images/m);
    expect(c.stderr()).toMatch(/^shard: write: 7\/7 images \(100%\), 4\/4 shards/m);
    const summary = c.stdout();
    expect(summary).toContain(`wrote ${path.join(out, "manifest.json")}`);
    expect(summary).toMatch(/train: 6 images in [34] shards/); // 4 chunks of 2; the broken file may empty the last one
    expect(summary).toMatch(/rejected: 1\n\s+a\/broken\.jpg: cannot decode/);
    expect(summary).toMatch(/fingerprint [0-9a-f]{16}…, \d+\.\d s/);
  });

  it("draws a progress bar on a terminal and says when nothing had to be written", async () => {
    const src = await writeIdxFolder(tempDir());
    const out = tempDir();
    await runShardCommand({ source: src, format: "idx", out }, captureIo(false).io);
    const c = captureIo(true);
    await runShardCommand({ source: src, format: "idx", out }, c.io);
    expect(c.stderr()).toMatch(/sharding \[.*\] \d+% \| \d+\/70 images/);
    expect(c.stdout()).toMatch(/^already sharded \(same fingerprint\), nothing written/);
  });

  it("refuses a bad flag with a ConfigError naming it", async () => {
    await expect(runShardCommand({ source: "x", format: "zip", out: "y" }, captureIo(false).io)).rejects.toThrow(
      ConfigError,
    );
    await expect(
      runShardCommand({ source: "x", format: "idx", out: "y", shardSize: 0 }, captureIo(false).io),
    ).rejects.toThrow(/shardSize/);
  });
});
