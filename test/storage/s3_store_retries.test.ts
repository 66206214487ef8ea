// S3ObjectStore retries with the real SDK middleware over a scripted network: what is retried, by whom, and what a final failure says.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { S3ObjectStore, S3RequestError } from "../../trainer/storage/s3_store.js";
import {
  type Reply,
  ScriptedS3Http,
  bodyBreakingAfter,
  connectionReset,
  s3Error,
  scriptedClient,
} from "./scripted_s3_http.js";

const MIB = 1024 * 1024;

function storeOn(http: ScriptedS3Http, options: { maxAttempts?: number } = {}): S3ObjectStore {
  return new S3ObjectStore({
    bucket: "b",
    prefix: "runs/r1",
    client: scriptedClient(http, options.maxAttempts ?? 5),
    maxAttempts: options.maxAttempts ?? 5,
    retryBaseDelayMs: 1,
    verifyConditionalWrites: false,
  });
}

const objectReply = (body: Buffer) => ({
  status: 200,
  headers: { etag: '"e1"', "content-length": String(body.length) },
  body,
});

describe("S3ObjectStore retries", () => {
  it("retries a GetObject answered with SlowDown, then returns the object", async () => {
    const http = new ScriptedS3Http((_req, i) =>
      i === 0 ? s3Error(503, "SlowDown", "Please reduce your request rate.") : objectReply(Buffer.from("hello")),
    );
    expect(new TextDecoder().decode(await storeOn(http).get("a.txt"))).toBe("hello");
    expect(http.seen.map((r) => r.path)).toEqual(["/b/runs/r1/a.txt", "/b/runs/r1/a.txt"]);
  });

  it("re-sends a PutObject whose connection was reset, and the stored bytes are intact", async () => {
    const data = randomBytes(64 * 1024);
    const http = new ScriptedS3Http((_req, i) =>
      i === 0 ? connectionReset() : { status: 200, headers: { etag: '"p1"' } },
    );
    expect(await storeOn(http).put("ckpt/model.bin", data)).toEqual({ etag: '"p1"' });
    expect(http.seen).toHaveLength(2);
    expect(http.seen[1].body.equals(data)).toBe(true);
  });

  it("re-sends only the multipart part whose connection was reset, and the parts add up to the object", async () => {
    const data = randomBytes(11 * MIB);
    const parts = new Map<number, Buffer>();
    let resetDone = false;
    const http = new ScriptedS3Http((req) => {
      if (req.method === "POST" && "uploads" in req.query) {
        return {
          status: 200,
          body: "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>u-1</UploadId></InitiateMultipartUploadResult>",
        };
      }
      if (req.method === "PUT" && "partNumber" in req.query) {
        const part = Number(req.query.partNumber);
        if (part === 2 && !resetDone) {
          resetDone = true;
          return connectionReset();
        }
        parts.set(part, req.body);
        return { status: 200, headers: { etag: `"part-${part}"` } };
      }
      if (req.method === "POST" && "uploadId" in req.query) {
        return {
          status: 200,
          body: '<CompleteMultipartUploadResult><ETag>"whole-3"</ETag></CompleteMultipartUploadResult>',
        };
      }
      return s3Error(400, "Unexpected", `${req.method} ${req.path}`);
    });
    const store = new S3ObjectStore({
      bucket: "b",
      client: scriptedClient(http),
      partSizeBytes: 5 * MIB,
      multipartThresholdBytes: 5 * MIB,
      verifyConditionalWrites: false,
    });
    expect(await store.put("shards/s0.npy", data)).toEqual({ etag: '"whole-3"' });
    expect(
      http
        .requestsFor("PUT", "partNumber")
        .map((r) => Number(r.query.partNumber))
        .sort(),
    ).toEqual([1, 2, 2, 3]);
    expect(Buffer.concat([1, 2, 3].map((n) => parts.get(n)!)).equals(data)).toBe(true);
  });

  it("re-issues a GetObject whose body broke mid-read, and returns the whole object", async () => {
    const data = randomBytes(200_000);
    const http = new ScriptedS3Http((_req, i) =>
      i === 0
        ? {
            status: 200,
            headers: { etag: '"e1"', "content-length": String(data.length) },
            body: bodyBreakingAfter(data, 50_000),
          }
        : objectReply(data),
    );
    expect(Buffer.from(await storeOn(http).get("big.bin")).equals(data)).toBe(true);
    expect(http.seen).toHaveLength(2);
  });

  it("resumes a broken getStream with a Range request pinned to the same ETag", async () => {
    const data = randomBytes(200_000);
    const http = new ScriptedS3Http((req, i): Reply => {
      if (i === 0)
        return {
          status: 200,
          headers: { etag: '"e1"', "content-length": String(data.length) },
          body: bodyBreakingAfter(data, 50_000),
        };
      const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? "")?.[1]);
      const rest = data.subarray(from);
      return {
        status: 206,
        headers: {
          etag: '"e1"',
          "content-length": String(rest.length),
          "content-range": `bytes ${from}-${data.length - 1}/${data.length}`,
        },
        body: rest,
      };
    });
    const chunks: Buffer[] = [];
    for await (const chunk of await storeOn(http).getStream("big.bin")) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(http.seen[1].headers).toMatchObject({ range: "bytes=50000-", "if-match": '"e1"' });
  });

  it("does not retry AccessDenied, and says which permission is missing", async () => {
    const http = new ScriptedS3Http(() => s3Error(403, "AccessDenied", "Access Denied"));
    const err = await storeOn(http)
      .get("secret.bin")
      .catch((e: unknown) => e);
    expect(http.seen).toHaveLength(1);
    expect(err).toBeInstanceOf(S3RequestError);
    expect((err as S3RequestError).message).toContain("s3://b/runs/r1/secret.bin");
    expect((err as S3RequestError).hint).toContain("s3:GetObject");
  });

  it("gives up after maxAttempts, naming the URI, the attempts and the last error", async () => {
    const http = new ScriptedS3Http(() => s3Error(500, "InternalError", "We encountered an internal error."));
    const err = await storeOn(http, { maxAttempts: 4 })
      .get("flaky.bin")
      .catch((e: unknown) => e);
    expect(http.seen).toHaveLength(4);
    expect(err).toBeInstanceOf(S3RequestError);
    expect((err as S3RequestError).message).toMatch(
      /^GetObject s3:\/\/b\/runs\/r1\/flaky\.bin failed after 4 attempts: InternalError/,
    );
    expect((err as S3RequestError).attempts).toBe(4);
  });

  it("gives up on a body that keeps breaking after maxAttempts reads", async () => {
    const data = randomBytes(10_000);
    const http = new ScriptedS3Http(() => ({
      status: 200,
      headers: { etag: '"e1"', "content-length": String(data.length) },
      body: bodyBreakingAfter(data, 10),
    }));
    const err = await storeOn(http, { maxAttempts: 3 })
      .get("broken.bin")
      .catch((e: unknown) => e);
    expect(http.seen).toHaveLength(3);
    expect((err as S3RequestError).message).toMatch(/broken\.bin failed after 3 attempts: ECONNRESET/);
  });

  it("retries putIfAbsent on 409 ConditionalRequestConflict, which the SDK does not", async () => {
    const http = new ScriptedS3Http((_req, i) =>
      i === 0 ? s3Error(409, "ConditionalRequestConflict") : { status: 200, headers: { etag: '"l1"' } },
    );
    expect(await storeOn(http).putIfAbsent("lock.json", "{}")).toBe(true);
    expect(http.seen.map((r) => r.headers["if-none-match"])).toEqual(["*", "*"]);
  });

  it("counts a 412 after a lost response as a win when the stored bytes are this caller's", async () => {
    const mine = Buffer.from('{"owner":"me"}');
    const http = new ScriptedS3Http((req, i) => {
      if (i === 0) return connectionReset(); // the write landed, the answer was lost
      if (req.method === "PUT") return s3Error(412, "PreconditionFailed");
      return objectReply(mine);
    });
    expect(await storeOn(http).putIfAbsent("lock.json", mine)).toBe(true);
    const other = new ScriptedS3Http((req, i) =>
      i === 0
        ? connectionReset()
        : req.method === "PUT"
          ? s3Error(412, "PreconditionFailed")
          : objectReply(Buffer.from('{"owner":"else"}')),
    );
    expect(await storeOn(other).putIfAbsent("lock.json", mine)).toBe(false);
  });
});
