// An S3 endpoint that accepts connections and never answers: every operation fails in bounded time, naming it.
import net from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3ObjectStore, S3RequestError, s3SettingsFromEnv } from "../../trainer/storage/s3_store.js";

let server: net.Server;
let endpoint: string;
const sockets = new Set<net.Socket>();

beforeAll(async () => {
  process.env.AWS_ACCESS_KEY_ID ??= "test";
  process.env.AWS_SECRET_ACCESS_KEY ??= "test";
  server = net.createServer((socket) => {
    sockets.add(socket); // accepted, read, never answered
    socket.on("data", () => undefined);
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server.close(resolve));
});

describe("S3ObjectStore against an endpoint that never answers", () => {
  const store = () =>
    new S3ObjectStore({
      bucket: "b",
      prefix: "run",
      endpoint,
      socketTimeoutMs: 300,
      connectionTimeoutMs: 300,
      maxAttempts: 2,
      retryBaseDelayMs: 10,
    });

  it.each([
    ["get", (s: S3ObjectStore) => s.get("checkpoints/latest.json")],
    ["head", (s: S3ObjectStore) => s.head("manifest.json")],
    ["put", (s: S3ObjectStore) => s.put("metrics.jsonl", "x\n")],
    [
      "list",
      async (s: S3ObjectStore) => {
        for await (const _ of s.list("checkpoints/")) break;
      },
    ],
  ])("%s fails with a message naming the endpoint and the timeouts", async (_op, run) => {
    const started = Date.now();
    const err = await run(store()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(S3RequestError);
    expect((err as Error).message).toContain(
      `no answer from the S3 endpoint ${endpoint} (timeouts: connect 0.3 s, no answer 0.3 s)`,
    );
    expect((err as Error).message).toContain("s3://b/run");
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it("takes its timeouts from IJEPA_S3_CONNECT_TIMEOUT_MS and IJEPA_S3_SOCKET_TIMEOUT_MS, with finite defaults", () => {
    expect(
      s3SettingsFromEnv({ IJEPA_S3_CONNECT_TIMEOUT_MS: "1500", IJEPA_S3_SOCKET_TIMEOUT_MS: "2500" }),
    ).toMatchObject({
      connectionTimeoutMs: 1500,
      socketTimeoutMs: 2500,
    });
    expect(s3SettingsFromEnv({})).toMatchObject({ connectionTimeoutMs: 10_000, socketTimeoutMs: 30_000 });
  });
});
