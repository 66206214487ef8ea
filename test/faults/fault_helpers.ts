// For the fault-injection tests: start a child writing checkpoints, kill it mid-write, check what a reader finds.
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs/promises";
import path from "node:path";
import { loadCheckpoint, readLatestPointer } from "../../trainer/checkpoint/checkpoint_store.js";
import type { ObjectStore } from "../../trainer/storage/object_store.js";

export const root = path.resolve(__dirname, "../..");
const runTs = path.join(root, "bin/run-ts.js");
const writer = path.join(__dirname, "checkpoint_writer_child.ts");

/** Starts the checkpoint writer on `uri`; resolves once it has saved `firstSaves` checkpoints. */
export async function startWriter(
  uri: string,
  env: Record<string, string> = {},
  firstSaves = 1,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [runTs, writer, uri], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  await new Promise<void>((resolve, reject) => {
    let saves = 0;
    child.stdout!.on("data", (d: Buffer) => {
      saves += (d.toString().match(/saved \d+/g) ?? []).length;
      if (saves >= firstSaves) resolve();
    });
    child.on("exit", (code) => reject(new Error(`writer exited with ${code} before saving: ${stderr}`)));
  });
  return child;
}

/** SIGKILL, and wait until the process is gone. */
export async function kill(child: ChildProcess): Promise<void> {
  const gone = new Promise((resolve) => child.on("exit", resolve));
  child.kill("SIGKILL");
  await gone;
}

/** The latest pointer names a checkpoint whose every file is there with its recorded sha256. */
export async function expectLatestComplete(store: ObjectStore): Promise<number> {
  const pointer = await readLatestPointer(store);
  if (!pointer) throw new Error(`${store.baseUri}: no latest.json`);
  const loaded = await loadCheckpoint(store, "latest"); // verifies every file against state.json
  if (loaded.step !== pointer.step) throw new Error(`latest.json names step ${pointer.step} but loads ${loaded.step}`);
  return pointer.step;
}

/** Temp files (".<name>.tmp-<pid>-<12 hex>") anywhere under a local folder. */
export async function tempFilesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) await walk(full);
      else if (/^\..+\.tmp-\d+-[0-9a-f]{12}$/.test(e.name)) found.push(full);
    }
  };
  await walk(dir);
  return found;
}
