// S3ObjectStore on the test run's Ceph radosgw: the ObjectStore contract, conditional writes on a versioned bucket,
// dropped connections on a real server, and openStore() configured from the environment.
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { IjepaError } from "../../trainer/errors.js";
import { bodyToBytes } from "../../trainer/storage/object_store.js";
import { openStore } from "../../trainer/storage/open_store.js";
import { S3ObjectStore } from "../../trainer/storage/s3_store.js";
import { makeTestBucket, s3TestEnv, withS3Server, testS3Client } from "../support/s3_test_bucket.js";
import { objectStoreContract } from "./object_store_contract.js";
import { connectionReset } from "./scripted_s3_http.js";

const MIB = 1024 * 1024;

type HttpRequestLike = { method: string; query?: Record<string, unknown>; headers: Record<string, string> };
type HttpHandlerLike = {
  handle(request: HttpRequestLike, options?: unknown): Promise<{ response: { body: Readable } }>;
  updateHttpClientConfig(key: never, value: never): void;
  httpHandlerConfigs(): unknown;
};

/** Sits between the SDK and its real HTTP handler, and breaks chosen requests once, as a flaky network would. */
class FaultInjector {
  readonly injected: string[] = [];
  constructor(
    private readonly inner: HttpHandlerLike,
    private readonly faults: {
      name: string;
      match: (r: HttpRequestLike) => boolean;
      kind: "reset-request" | "break-body";
      used?: boolean;
    }[],
  ) {}

  async handle(request: HttpRequestLike, options?: unknown): Promise<{ response: { body: Readable } }> {
    const fault = this.faults.find((f) => !f.used && f.match(request));
    if (fault) {
      fault.used = true;
      this.injected.push(fault.name);
    }
    if (fault?.kind === "reset-request") throw connectionReset();
    const out = await this.inner.handle(request, options);
    if (fault?.kind === "break-body") out.response.body = breakAfter(out.response.body, 100_000);
    return out;
  }
  updateHttpClientConfig(key: never, value: never): void {
    this.inner.updateHttpClientConfig(key, value);
  }
  httpHandlerConfigs(): unknown {
    return this.inner.httpHandlerConfigs();
  }
}

function breakAfter(body: Readable, limit: number): Readable {
  return Readable.from(
    (async function* () {
      let sent = 0;
      for await (const chunk of body as AsyncIterable<Buffer>) {
        if (sent + chunk.length >= limit) {
          yield chunk.subarray(0, limit - sent);
          body.destroy();
          throw connectionReset();
        }
        sent += chunk.length;
        yield chunk;
      }
    })(),
  );
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

withS3Server("S3ObjectStore on radosgw", () => {
  objectStoreContract("S3ObjectStore on radosgw", async () => {
    const bucket = await makeTestBucket("store-contract");
    // Small pages and parts, so a handful of objects spans several pages and 10 MiB several parts.
    const options = { listPageSize: 2, partSizeBytes: 5 * 1024 * 1024, multipartThresholdBytes: 5 * 1024 * 1024 };
    return { store: bucket.store("p/run", options), sibling: bucket.store("p/run-2", options) };
  });

  describe("S3ObjectStore putIfAbsent on a bucket with versioning", () => {
    it("is atomic, or refuses with a message naming the bucket and the fix", async () => {
      const bucket = await makeTestBucket("versioned", { versioning: true });
      const store: S3ObjectStore = bucket.store("runs/r1");
      const outcomes = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => store.putIfAbsent("lock.json", `owner ${i}`)),
      );
      const refused = outcomes.filter((o) => o.status === "rejected");
      if (refused.length > 0) {
        // radosgw 16.2 ignores If-None-Match on versioned buckets; the store must notice and say so, every time.
        expect(refused).toHaveLength(10);
        const reason = (refused[0] as PromiseRejectedResult).reason as IjepaError;
        expect(reason).toBeInstanceOf(IjepaError);
        expect(reason.message).toMatch(new RegExp(`ignores If-None-Match .* bucket ${bucket.bucket}`));
        expect(reason.hint).toMatch(/versioning/);
        expect(await store.head("lock.json")).toBeUndefined();
        const probes: string[] = [];
        for await (const info of store.list("")) probes.push(info.key);
        expect(probes).toEqual([]);
      } else {
        const winners = outcomes.filter((o) => o.status === "fulfilled" && o.value);
        expect(winners).toHaveLength(1);
      }
    });
  });

  describe("S3ObjectStore on radosgw with a flaky network", () => {
    it("survives a reset multipart part and two broken downloads with the data intact", async () => {
      const bucket = await makeTestBucket("flaky");
      const plain = testS3Client(bucket.server);
      const isGet = (r: HttpRequestLike) => r.method === "GET" && !("list-type" in (r.query ?? {}));
      const injector = new FaultInjector(plain.config.requestHandler as unknown as HttpHandlerLike, [
        {
          name: "reset part 2",
          kind: "reset-request",
          match: (r) => r.method === "PUT" && r.query?.partNumber === "2",
        },
        { name: "break get()", kind: "break-body", match: isGet },
        { name: "break getStream()", kind: "break-body", match: isGet },
      ]);
      const client = testS3Client(bucket.server, { requestHandler: injector as never });
      const store = new S3ObjectStore({
        bucket: bucket.bucket,
        prefix: "flaky",
        client,
        partSizeBytes: 5 * MIB,
        multipartThresholdBytes: 5 * MIB,
        retryBaseDelayMs: 1,
      });
      const data = randomBytes(11 * MIB);

      await store.put("shard.bin", data);
      expect(sha256(await store.get("shard.bin"))).toBe(sha256(data));
      expect(sha256(await bodyToBytes(await store.getStream("shard.bin")))).toBe(sha256(data));
      expect(injector.injected).toEqual(["reset part 2", "break get()", "break getStream()"]);
    });
  });

  describe("openStore with the test server in the environment", () => {
    it("reaches the server named by IJEPA_S3_ENDPOINT with the AWS_* keys", async () => {
      const bucket = await makeTestBucket("via-env");
      const saved = { ...process.env };
      Object.assign(process.env, s3TestEnv(bucket.server));
      try {
        const store = openStore(`s3://${bucket.bucket}/runs/r1`);
        await store.publish("checkpoints/latest.json", { step: 120 });
        expect(await store.putIfAbsent("lock.json", "{}")).toBe(true);
        const direct = bucket.store("runs/r1");
        expect(JSON.parse(new TextDecoder().decode(await direct.get("checkpoints/latest.json")))).toEqual({
          step: 120,
        });
      } finally {
        for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
        Object.assign(process.env, saved);
      }
    });
  });
});
