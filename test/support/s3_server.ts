// A throwaway single-node Ceph radosgw on loopback, for S3 integration tests: everything lives in one temp folder.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { appendFileSync, closeSync, existsSync, openSync, readFileSync } from "node:fs";
import * as fs from "node:fs/promises";
import { createServer } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** The binaries a server needs; Debian ships them in ceph-mon, ceph-osd, radosgw and ceph-common. */
export const CEPH_BINARIES = ["monmaptool", "ceph-mon", "ceph-osd", "ceph", "radosgw", "radosgw-admin"] as const;
export const CEPH_INSTALL_HINT = "apt-get install ceph-mon ceph-osd radosgw ceph-common";

/** Fixed test credentials: the server only listens on 127.0.0.1 and lives as long as one test run. */
export const TEST_ACCESS_KEY_ID = "IJEPATESTACCESSKEY01";
export const TEST_SECRET_ACCESS_KEY = "ijepa-test-secret-key-not-a-real-credential";
export const TEST_REGION = "us-east-1";

export interface S3Server {
  /** e.g. "http://127.0.0.1:41234"; use with forcePathStyle. */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** Seconds from the call until the gateway answered HTTP. */
  startupSeconds: number;
  /** The temp folder holding config, mon store, logs and daemon.pids; removed by stop(). */
  dataDir: string;
  /** Kills the daemons by PID and removes the temp folder. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartS3ServerOptions {
  /** RAM the OSD may use for object data (memstore); objects live only in memory. Default 2 GiB. */
  memstoreBytes?: number;
  /** Give up when the gateway has not answered by then. Default 90 s. */
  startTimeoutMs?: number;
}

/** Names of the required binaries that are not on PATH (empty when everything is installed). */
export function missingCephBinaries(): string[] {
  const dirs = (process.env.PATH ?? "").split(path.delimiter).filter(Boolean);
  return CEPH_BINARIES.filter((bin) => !dirs.some((dir) => existsSync(path.join(dir, bin))));
}

/**
 * Starts mon + one memstore OSD + radosgw on loopback ports, with auth off inside the cluster
 * (S3 requests are still signed and checked against the test user's keys).
 */
export async function startS3Server(options: StartS3ServerOptions = {}): Promise<S3Server> {
  const started = performance.now();
  const missing = missingCephBinaries();
  if (missing.length > 0) {
    throw new Error(
      `cannot start the test S3 server: ${missing.join(", ")} not on PATH; install with: ${CEPH_INSTALL_HINT}`,
    );
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ijepa-s3-"));
  const cluster = new CephCluster(dir);
  try {
    await cluster.boot(options);
    const startupSeconds = (performance.now() - started) / 1000;
    return {
      endpoint: cluster.endpoint,
      accessKeyId: TEST_ACCESS_KEY_ID,
      secretAccessKey: TEST_SECRET_ACCESS_KEY,
      region: TEST_REGION,
      startupSeconds,
      dataDir: dir,
      stop: () => cluster.stop(),
    };
  } catch (err) {
    const logs = cluster.logTails();
    await cluster.stop();
    throw new Error(`test S3 server did not start: ${(err as Error).message}\n${logs}`, { cause: err });
  }
}

class CephCluster {
  endpoint = "";
  private readonly conf: string;
  /** Daemon PIDs, one a line, for the reaper. */
  private readonly pidFile: string;
  private readonly daemons: ChildProcess[] = [];
  private reaper: ChildProcess | undefined;
  private stopped = false;
  private readonly killOnExit = (): void => this.killAll();

  constructor(private readonly dir: string) {
    this.conf = path.join(dir, "ceph.conf");
    this.pidFile = path.join(dir, "daemon.pids");
  }

  async boot(options: StartS3ServerOptions): Promise<void> {
    const deadline = Date.now() + (options.startTimeoutMs ?? 90_000);
    const [monPort, rgwPort] = await freeLoopbackPorts(2);
    this.endpoint = `http://127.0.0.1:${rgwPort}`;
    const fsid = randomUUID();
    for (const sub of ["run", "log", "mon/a", "osd/0"]) await fs.mkdir(path.join(this.dir, sub), { recursive: true });
    await fs.writeFile(
      this.conf,
      cephConf({ dir: this.dir, fsid, monPort, rgwPort, memstoreBytes: options.memstoreBytes ?? 2 * 1024 ** 3 }),
    );
    process.once("exit", this.killOnExit);

    const monmap = path.join(this.dir, "monmap");
    await this.run("monmaptool", ["--create", "--add", "a", `127.0.0.1:${monPort}`, "--fsid", fsid, monmap]);
    await this.run("ceph-mon", ["-c", this.conf, "--mkfs", "-i", "a", "--monmap", monmap]);
    this.startReaper();
    this.daemon("mon.a", "ceph-mon", ["-c", this.conf, "-f", "-i", "a"]);
    const osdId = (await this.run("ceph", ["-c", this.conf, "--connect-timeout", "30", "osd", "create"])).trim();
    if (osdId !== "0") throw new Error(`expected the first OSD to get id 0, got ${JSON.stringify(osdId)}`);
    await this.run("ceph-osd", ["-c", this.conf, "--mkfs", "-i", "0"]);
    this.daemon("osd.0", "ceph-osd", ["-c", this.conf, "-f", "-i", "0"]);
    // radosgw-admin creates rgw's pools (waiting for the OSD) before the gateway starts: when both
    // create them at once, one of them stalls ~5 s on the race.
    await this.run("radosgw-admin", [
      "-c",
      this.conf,
      "user",
      "create",
      "--uid",
      "ijepa-test",
      "--display-name",
      "ijepa test",
      "--access-key",
      TEST_ACCESS_KEY_ID,
      "--secret",
      TEST_SECRET_ACCESS_KEY,
    ]);
    this.daemon("client.rgw", "radosgw", ["-c", this.conf, "-f", "-n", "client.rgw"]);
    await this.waitForGateway(deadline);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    process.removeListener("exit", this.killOnExit);
    // SIGKILL on purpose: a memstore OSD that gets SIGTERM first saves every object to disk, which we delete anyway.
    const exits = this.daemons
      .filter((d) => d.exitCode === null && d.signalCode === null)
      .map((d) => new Promise((r) => d.once("exit", r)));
    this.killAll();
    await Promise.race([Promise.all(exits), sleep(5_000, { unref: true })]);
    if (this.reaper?.pid) tryKill(this.reaper.pid, "SIGKILL");
    await fs.rm(this.dir, { recursive: true, force: true });
  }

  /** The last lines of every daemon log, for a start failure message. */
  logTails(): string {
    const logDir = path.join(this.dir, "log");
    const parts: string[] = [];
    for (const name of ["mon.a", "osd.0", "client.rgw"]) {
      for (const file of [`${name}.log`, `${name}.out`]) {
        try {
          const lines = readFileSync(path.join(logDir, file), "utf8").trimEnd().split("\n").slice(-15);
          parts.push(`--- ${file} ---\n${lines.join("\n")}`);
        } catch {
          // a daemon that never started has no log
        }
      }
    }
    return parts.join("\n");
  }

  private killAll(): void {
    for (const d of this.daemons) if (d.pid && d.exitCode === null && d.signalCode === null) tryKill(d.pid, "SIGKILL");
  }

  private async run(bin: string, args: string[]): Promise<string> {
    try {
      const { stdout } = await execFileAsync(bin, args, { timeout: 60_000, env: this.env() });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`${bin} ${args.join(" ")} failed: ${e.stderr?.trim() || e.message}`);
    }
  }

  private daemon(name: string, bin: string, args: string[]): void {
    const out = openSync(path.join(this.dir, "log", `${name}.out`), "a");
    const child = spawn(bin, args, { stdio: ["ignore", out, out], env: this.env() });
    closeSync(out);
    child.on("error", () => undefined); // reported through waitForGateway's timeout and the log tails
    this.daemons.push(child);
    if (child.pid) appendFileSync(this.pidFile, `${child.pid}\n`);
  }

  /** A detached shell that kills the daemons and removes the folder if this process dies without calling stop(). */
  private startReaper(): void {
    const script =
      `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ` +
      `[ -f '${this.pidFile}' ] && kill -9 $(cat '${this.pidFile}') 2>/dev/null; rm -rf '${this.dir}'`;
    this.reaper = spawn("sh", ["-c", script], { detached: true, stdio: "ignore" });
    this.reaper.unref();
  }

  private env(): NodeJS.ProcessEnv {
    // CEPH_CONF keeps every tool off /etc/ceph even when a flag is forgotten.
    return { ...process.env, CEPH_CONF: this.conf, CEPH_ARGS: "" };
  }

  private async waitForGateway(deadline: number): Promise<void> {
    let last = "no answer yet";
    while (Date.now() < deadline) {
      for (const d of this.daemons) {
        if (d.exitCode !== null || d.signalCode !== null)
          throw new Error(`${d.spawnfile} exited (${d.exitCode ?? d.signalCode})`);
      }
      try {
        const res = await fetch(`${this.endpoint}/`, { signal: AbortSignal.timeout(2_000) });
        if (res.ok) return;
        last = `HTTP ${res.status}`;
      } catch (err) {
        last = (err as Error).message;
      }
      await sleep(100);
    }
    throw new Error(`radosgw at ${this.endpoint} not answering (${last})`);
  }
}

function cephConf(c: { dir: string; fsid: string; monPort: number; rgwPort: number; memstoreBytes: number }): string {
  return `[global]
fsid = ${c.fsid}
mon host = v2:127.0.0.1:${c.monPort}
mon initial members = a
public addr = 127.0.0.1
ms bind ipv6 = false
ms bind msgr1 = false
auth cluster required = none
auth service required = none
auth client required = none
keyring = /dev/null
run dir = ${c.dir}/run
admin socket = ${c.dir}/run/$name.asok
pid file = ${c.dir}/run/$name.pid
log file = ${c.dir}/log/$name.log
mon data = ${c.dir}/mon/$id
osd data = ${c.dir}/osd/$id
osd objectstore = memstore
memstore device bytes = ${c.memstoreBytes}
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
# rgw makes ~8 pools at start; small fixed PG counts keep one OSD under its PG limit and peering fast.
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
# Each pool rgw creates is one osdmap change; the default 1 s paxos batching makes start-up ~10 s slower.
paxos propose interval = 0.01
paxos min wait = 0.001

[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${c.rgwPort}
rgw data = ${c.dir}/rgw
rgw thread pool size = 64
# radosgw asks the mon for a "secure" session by default, which auth "none" cannot provide.
ms mon client mode = crc secure
`;
}

async function freeLoopbackPorts(count: number): Promise<number[]> {
  // Hold every socket until all are picked, so the ports differ from each other.
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<import("node:net").Server>((resolve, reject) => {
          const server = createServer();
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as import("node:net").AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function tryKill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function sleep(ms: number, options: { unref?: boolean } = {}): Promise<void> {
  return new Promise((r) => {
    const timer = setTimeout(r, ms);
    if (options.unref) timer.unref();
  });
}

/** A bucket name that is valid in S3 and unique per call: "<name>-<random>". */
export function uniqueBucketName(name: string): string {
  const slug =
    name
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 48) || "test";
  return `${slug}-${randomBytes(4).toString("hex")}`;
}
