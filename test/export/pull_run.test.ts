// pullRun / runPullCommand on local runs made by train(): what is copied, which checkpoint, idempotence, damage, progress.
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../../trainer/backend.js";
import {
  type CheckpointStateDocument,
  loadCheckpoint,
  verifyCheckpoint,
} from "../../trainer/checkpoint/checkpoint_store.js";
import { CorruptDataError, IjepaError, NotFoundError } from "../../trainer/errors.js";
import { formatPull, parseCheckpointChoice, runPullCommand } from "../../bin/commands/pull.js";
import { type PullProgress, pullRun } from "../../trainer/export/pull_run.js";
import { LocalObjectStore } from "../../trainer/storage/local_store.js";
import type { ObjectStore } from "../../trainer/storage/object_store.js";
import { openStore } from "../../trainer/storage/open_store.js";
import type { ProbeHistoryRecord } from "../../trainer/run/probe_record.js";
import { captureIo } from "../support/capture_io.js";
import { trainSmokeRun } from "./smoke_run.js";
import { tempDir } from "../support/temp_dir.js";

let run: string;

/** Every file under a folder, as keys relative to it, sorted. */
function filesUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.push(path.relative(root, full).split(path.sep).join("/"));
    }
  };
  walk(root);
  return out.sort();
}

const probeLine = (step: number, linearTop1: number, knnTop1: number): string =>
  JSON.stringify({
    step,
    time: "2025-01-01T00:00:00Z",
    dataset: "squares",
    linearTop1,
    knnTop1,
  } satisfies ProbeHistoryRecord);

/** A copy of the fixture run that a test may damage. */
function copyOfRun(): string {
  const copy = tempDir("pull-src");
  cpSync(run, copy, { recursive: true });
  return copy;
}

function flipLastByte(file: string): void {
  const bytes = readFileSync(file);
  bytes[bytes.length - 1] ^= 0xff;
  writeFileSync(file, bytes);
}

/** Counts the reads of each key, to show what a pull downloads. */
function countingOpen(reads: string[]): (uri: string) => ObjectStore {
  return (uri) => {
    const store = openStore(uri);
    return new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === "get" || prop === "getStream") {
          return (key: string) => {
            if (target.baseUri === path.resolve(run)) reads.push(key);
            return (target[prop] as (k: string) => unknown).call(target, key);
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    });
  };
}

beforeAll(async () => {
  await initBackend("wasm");
  run = tempDir("pull-run");
  await trainSmokeRun(run, { steps: 3 });
  // Probe results as `ijepa probe` leaves them: linearTop1 favours step 2, knnTop1 step 1.
  mkdirSync(path.join(run, "probe"), { recursive: true });
  writeFileSync(
    path.join(run, "probe/history.jsonl"),
    [probeLine(1, 0.5, 0.9), probeLine(2, 0.7, 0.4), probeLine(3, 0.6, 0.4)].join("\n") + "\n",
  );
  writeFileSync(
    path.join(run, "probe/00000002.json"),
    JSON.stringify({ step: 2, encoder: { linearTop1: 0.7, knnTop1: 0.4 } }),
  );
  mkdirSync(path.join(run, "report"), { recursive: true });
  writeFileSync(path.join(run, "report/report.html"), "<html>report</html>\n");
  writeFileSync(path.join(run, "report/loss.png"), Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
});

describe("pullRun", () => {
  it("copies the latest checkpoint with the run's config, metrics, probes and report, and points latest.json at it", async () => {
    const to = tempDir("pulled");
    const result = await pullRun({ run, which: "latest", to });
    expect(result).toMatchObject({
      step: 3,
      reason: "latest.json points here",
      from: path.join(run, "checkpoints/00000003") + "/",
    });
    expect(filesUnder(to)).toEqual([
      "checkpoints/00000003/model.safetensors",
      "checkpoints/00000003/optimizer.safetensors",
      "checkpoints/00000003/state.json",
      "checkpoints/latest.json",
      "config.yaml",
      "metrics.jsonl",
      "probe/00000002.json",
      "probe/history.jsonl",
      "pulled-from.json",
      "report/loss.png",
      "report/masks.png",
      "report/report.html",
    ]);
    expect(JSON.parse(readFileSync(path.join(to, "pulled-from.json"), "utf8"))).toEqual({ run });
    for (const key of filesUnder(to).filter((k) => k !== "checkpoints/latest.json" && k !== "pulled-from.json")) {
      expect(readFileSync(path.join(to, key)).equals(readFileSync(path.join(run, key))), key).toBe(true);
    }
    expect(JSON.parse(readFileSync(path.join(to, "checkpoints/latest.json"), "utf8"))).toMatchObject({
      step: 3,
      prefix: "checkpoints/00000003/",
    });
    expect((await loadCheckpoint(new LocalObjectStore(to), "latest")).step).toBe(3);
    expect(result.files.map((f) => f.action)).toEqual(result.files.map(() => "copied"));
    expect(result.files.at(-1)?.key).toBe("checkpoints/latest.json");
  });

  it("leaves a run that `ijepa train --resume` continues exactly as the original would have", async () => {
    const to = tempDir("pulled-resume");
    await pullRun({ run, which: 2, to });
    const resumed = await trainSmokeRun(to, { steps: 3, resume: true });
    expect(resumed.step).toBe(3);
    const state = (dir: string) =>
      JSON.parse(readFileSync(path.join(dir, "checkpoints/00000003/state.json"), "utf8")) as CheckpointStateDocument;
    // Exact resume: the step-3 weights trained from the pulled step 2 are the original run's step-3 weights.
    expect(state(to).files["model.safetensors"].sha256).toBe(state(run).files["model.safetensors"].sha256);
    expect(state(to).files["optimizer.safetensors"].sha256).toBe(state(run).files["optimizer.safetensors"].sha256);
  });

  it("takes the best checkpoint by linearTop1, or by the metric asked for", async () => {
    const byLinear = await pullRun({ run, which: "best", to: tempDir("best") });
    expect(byLinear).toMatchObject({ step: 2, reason: "best linearTop1 (0.7)" });
    const byKnn = await pullRun({ run, which: "best", to: tempDir("best-knn"), metric: "knnTop1" });
    expect(byKnn).toMatchObject({ step: 1, reason: "best knnTop1 (0.9)" });
  });

  it("names the steps that exist when asked for one that does not", async () => {
    const error = await pullRun({ run, which: 7, to: tempDir("missing") }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).uri).toBe(path.join(run, "checkpoints/00000007") + "/");
    expect((error as NotFoundError).message).toContain("complete checkpoints: 1, 2, 3");
  });

  it("says there is no probe history when asked for the best checkpoint of an unprobed run", async () => {
    const unprobed = copyOfRun();
    rmSync(path.join(unprobed, "probe"), { recursive: true });
    const error = await pullRun({ run: unprobed, which: "best", to: tempDir("unprobed") }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).uri).toBe(path.join(unprobed, "probe/history.jsonl"));
    expect((error as NotFoundError).message).toContain("ijepa probe");
    expect((error as NotFoundError).message).toContain("complete checkpoints: 1, 2, 3");
  });

  it("downloads nothing and rewrites nothing when pulled again", async () => {
    const to = tempDir("again");
    await pullRun({ run, which: "latest", to });
    const before = new Map(filesUnder(to).map((k) => [k, statSync(path.join(to, k), { bigint: true }).mtimeNs]));
    const reads: string[] = [];
    const second = await pullRun({ run, which: "latest", to }, { openStore: countingOpen(reads) });
    expect(second.files.every((f) => f.action === "unchanged")).toBe(true);
    expect(second.bytesCopied).toBe(0);
    expect(reads.filter((k) => k.endsWith(".safetensors"))).toEqual([]);
    expect(new Map(filesUnder(to).map((k) => [k, statSync(path.join(to, k), { bigint: true }).mtimeNs]))).toEqual(
      before,
    );
  });

  it("fetches again only the file that was damaged in the copy", async () => {
    const to = tempDir("repair");
    await pullRun({ run, which: "latest", to });
    flipLastByte(path.join(to, "checkpoints/00000003/model.safetensors"));
    const reads: string[] = [];
    const result = await pullRun({ run, which: "latest", to }, { openStore: countingOpen(reads) });
    const action = (key: string) => result.files.find((f) => f.key === key)?.action;
    expect(action("checkpoints/00000003/model.safetensors")).toBe("copied");
    expect(action("checkpoints/00000003/optimizer.safetensors")).toBe("unchanged");
    expect(reads.filter((k) => k.endsWith(".safetensors"))).toEqual(["checkpoints/00000003/model.safetensors"]);
    await expect(verifyCheckpoint(new LocalObjectStore(to), 3)).resolves.toMatchObject({ step: 3 });
  });

  it("refuses a copy whose bytes do not match state.json, leaving no state.json and no latest.json behind", async () => {
    const damaged = copyOfRun();
    flipLastByte(path.join(damaged, "checkpoints/00000003/optimizer.safetensors"));
    const to = tempDir("damaged");
    const error = await pullRun({ run: damaged, which: "latest", to }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptDataError);
    expect((error as CorruptDataError).message).toContain("optimizer.safetensors");
    expect((error as CorruptDataError).hint).toContain("pull again");
    expect(filesUnder(to).filter((k) => k.endsWith("state.json") || k.endsWith("latest.json"))).toEqual([]);
  });

  it("will not overwrite a different checkpoint of the same step", async () => {
    const to = tempDir("other-run");
    await pullRun({ run, which: "latest", to });
    const stateFile = path.join(to, "checkpoints/00000003/state.json");
    const state = JSON.parse(readFileSync(stateFile, "utf8")) as CheckpointStateDocument;
    writeFileSync(stateFile, JSON.stringify({ ...state, writtenAt: "2020-01-01T00:00:00.000Z" }, null, 2) + "\n");
    await expect(pullRun({ run, which: "latest", to })).rejects.toThrow(IjepaError);
    await expect(pullRun({ run, which: "latest", to })).rejects.toThrow(
      /already holds a different checkpoint of step 3/,
    );
  });

  it("reports progress in bytes, rising to the total of what it pulls", async () => {
    const events: PullProgress[] = [];
    const to = tempDir("progress");
    await pullRun({ run, which: 1, to }, { onProgress: (p) => events.push(p) });
    const pulledBytes = filesUnder(to)
      .filter((k) => k !== "checkpoints/latest.json" && k !== "pulled-from.json")
      .reduce((n, k) => n + statSync(path.join(to, k)).size, 0);
    expect(events.length).toBeGreaterThan(5);
    for (let i = 1; i < events.length; i++) expect(events[i].bytesDone).toBeGreaterThanOrEqual(events[i - 1].bytesDone);
    expect(events.every((e) => e.bytesTotal === pulledBytes)).toBe(true);
    expect(events.at(-1)!.bytesDone).toBe(pulledBytes);
  });
});

describe("runPullCommand", () => {
  it("prints a progress line per file when stderr is not a terminal, then every file written and how to resume", async () => {
    const to = tempDir("cmd");
    const c = captureIo(false);
    await runPullCommand({ run, which: "2", to }, c.io);
    expect(c.stderr()).toContain("checkpoints/00000002/optimizer.safetensors");
    expect(c.stderr()).toMatch(/^pulling \d+% \(/m);
    expect(c.stdout()).toContain(`checkpoint 2 (step 2 as asked) of ${path.join(run, "checkpoints/00000002")}/`);
    expect(c.stdout()).toMatch(/copied {2}checkpoints\/00000002\/model\.safetensors \(\d/);
    expect(c.stdout()).toContain(`resume training with: ijepa train --resume --out ${to}`);
  });

  it("draws a byte progress bar on a terminal", async () => {
    const c = captureIo(true);
    await runPullCommand({ run, to: tempDir("cmd-tty") }, c.io);
    expect(c.stderr()).toContain("pulling [");
    expect(c.stderr()).toContain("100%");
  });

  it("reads latest, best and step numbers, and rejects anything else", () => {
    expect(parseCheckpointChoice("latest")).toBe("latest");
    expect(parseCheckpointChoice(" best ")).toBe("best");
    expect(parseCheckpointChoice("120")).toBe(120);
    expect(parseCheckpointChoice(0)).toBe(0);
    expect(() => parseCheckpointChoice("newest")).toThrow(/not "latest", "best" or a step number/);
    expect(() => parseCheckpointChoice("-3")).toThrow(IjepaError);
  });

  it("lists files already in place as unchanged", () => {
    const lines = formatPull({
      step: 3,
      epoch: 0,
      reason: "latest.json points here",
      from: "s3://b/r/checkpoints/00000003/",
      to: "/tmp/x",
      files: [
        { key: "checkpoints/00000003/model.safetensors", sizeBytes: 2048, action: "unchanged" },
        { key: "checkpoints/latest.json", sizeBytes: 90, action: "copied" },
      ],
      bytesCopied: 90,
    });
    expect(lines).toEqual([
      "checkpoint 3 (latest.json points here) of s3://b/r/checkpoints/00000003/",
      "  unchanged  checkpoints/00000003/model.safetensors (2.00 KiB)",
      "  copied     checkpoints/latest.json (90 B)",
      "90 B copied into /tmp/x; 1 file(s) were already there",
      "resume training with: ijepa train --resume --out /tmp/x",
    ]);
  });
});
