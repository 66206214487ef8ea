// The throwaway radosgw: it serves S3, stop() leaves nothing behind, and neither does a test process that dies without stopping it.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { ListBucketsCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { missingCephBinaries, startS3Server } from "./s3_server.js";
import { testS3Client } from "./s3_test_bucket.js";

const missing = missingCephBinaries();
const REPO = path.resolve(import.meta.dirname, "../..");

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A killed daemon may linger as a zombie until its parent reaps it; that is dead enough.
  return !/^Z/.test(execFileSync("ps", ["-o", "stat=", "-p", String(pid)], { encoding: "utf8" }).trim());
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    if (condition()) return true;
  }
  return condition();
}

describe.skipIf(missing.length > 0 && !process.env.CI)("startS3Server", () => {
  it("serves signed S3 requests, and stop() kills the daemons and removes the folder", async () => {
    const server = await startS3Server();
    const pids = readFileSync(path.join(server.dataDir, "daemon.pids"), "utf8").trim().split("\n").map(Number);
    try {
      expect(pids).toHaveLength(3);
      const { Buckets } = await testS3Client(server).send(new ListBucketsCommand({}));
      expect(Buckets ?? []).toEqual([]);
    } finally {
      await server.stop();
    }
    expect(existsSync(server.dataDir)).toBe(false);
    expect(pids.filter(alive)).toEqual([]);
    await server.stop(); // twice is fine
  });

  it("cleans up after a test process that is killed without calling stop()", async () => {
    const scratch = await fs.mkdtemp(path.join(os.tmpdir(), "ijepa-s3-orphan-"));
    const script = path.join(scratch, "start.mts");
    await fs.writeFile(
      script,
      `import { startS3Server } from ${JSON.stringify(path.join(REPO, "test/support/s3_server.ts"))};
const server = await startS3Server();
console.log(JSON.stringify({ dataDir: server.dataDir }));
setInterval(() => undefined, 1000);
`,
    );
    const child = spawn(process.execPath, [path.join(REPO, "bin/run-ts.js"), script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          const found = /\{"dataDir".*\}/.exec(out);
          if (found) resolve(found[0]);
        });
        child.once("exit", (code) => reject(new Error(`child exited (${code}) before the server was up: ${out}`)));
      });
      const { dataDir } = JSON.parse(line) as { dataDir: string };
      const pids = readFileSync(path.join(dataDir, "daemon.pids"), "utf8").trim().split("\n").map(Number);
      child.kill("SIGKILL");
      expect(await waitUntil(() => !existsSync(dataDir) && pids.every((p) => !alive(p)), 10_000)).toBe(true);
    } finally {
      child.kill("SIGKILL");
      await fs.rm(scratch, { recursive: true, force: true });
    }
  });
});
