// A server that stops sending must not hang the store: the socket idle timeout fails the read and the retries give up.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3ObjectStore, S3RequestError } from "../../trainer/storage/s3_store.js";

let server: http.Server;
let endpoint: string;
let requests = 0;

beforeAll(async () => {
  process.env.AWS_ACCESS_KEY_ID ??= "test";
  process.env.AWS_SECRET_ACCESS_KEY ??= "test";
  // Every GET gets its headers and 100 of 1000 promised bytes, then silence (the socket stays open).
  server = http.createServer((_req, res) => {
    requests++;
    res.writeHead(200, { "content-length": "1000", etag: '"abc"', "content-type": "application/octet-stream" });
    res.write(Buffer.alloc(100, 7));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("S3ObjectStore against a stalled connection", () => {
  it("fails with an error naming the object after its retries, instead of waiting for ever", async () => {
    const store = new S3ObjectStore({
      bucket: "b",
      prefix: "p",
      endpoint,
      forcePathStyle: true,
      socketTimeoutMs: 300,
      maxAttempts: 2,
      retryBaseDelayMs: 10,
    });
    const started = Date.now();
    const err = await store.get("k").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(S3RequestError);
    expect((err as Error).message).toContain("s3://b/p/k");
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(requests).toBeGreaterThanOrEqual(2);
  });
});
