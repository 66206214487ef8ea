// S3ObjectStore against a mocked S3Client (aws-sdk-client-mock): requests it makes, and how S3 errors become errors a user can act on.
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchBucket,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { IjepaError, NotFoundError } from "../../trainer/errors.js";
import { S3ObjectStore, S3RequestError, createS3Client, s3SettingsFromEnv } from "../../trainer/storage/s3_store.js";

function serviceError(name: string, status: number, attempts = 1): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: status >= 500 ? "server" : "client",
    message: `${name} from S3`,
    $metadata: { httpStatusCode: status, attempts },
  });
}

function setup(options: { verifyConditionalWrites?: boolean } = {}) {
  const client = new S3Client({ region: "us-east-1", credentials: { accessKeyId: "a", secretAccessKey: "b" } });
  const mock = mockClient(client);
  const store = new S3ObjectStore({
    bucket: "b",
    prefix: "runs/r1",
    client,
    retryBaseDelayMs: 1,
    verifyConditionalWrites: options.verifyConditionalWrites ?? false,
  });
  return { client, mock, store };
}

const body = (text: string) => Readable.from([Buffer.from(text)]) as never;

describe("S3ObjectStore requests", () => {
  it("puts under the store's prefix with the content type, and returns S3's ETag", async () => {
    const { mock, store } = setup();
    mock.on(PutObjectCommand).resolves({ ETag: '"abc"' });
    expect(await store.put("checkpoints/latest.json", "{}", { contentType: "application/json" })).toEqual({
      etag: '"abc"',
    });
    expect(mock.commandCalls(PutObjectCommand)[0].args[0].input).toMatchObject({
      Bucket: "b",
      Key: "runs/r1/checkpoints/latest.json",
      ContentType: "application/json",
    });
  });

  it("publishes a JSON document in one PutObject", async () => {
    const { mock, store } = setup();
    mock.on(PutObjectCommand).resolves({ ETag: '"j"' });
    await store.publish("manifest.json", { shards: 3 });
    const input = mock.commandCalls(PutObjectCommand)[0].args[0].input;
    expect(input.ContentType).toBe("application/json");
    expect(JSON.parse(Buffer.from(input.Body as Uint8Array).toString())).toEqual({ shards: 3 });
  });

  it("lists across continuation tokens, with keys relative to the prefix", async () => {
    const { client, mock } = setup();
    const store = new S3ObjectStore({ bucket: "b", prefix: "runs/r1", client, listPageSize: 2 });
    const item = (k: string) => ({ Key: `runs/r1/${k}`, Size: 1, ETag: `"${k}"`, LastModified: new Date(0) });
    mock
      .on(ListObjectsV2Command, { ContinuationToken: undefined })
      .resolves({ Contents: [item("ckpt/1"), item("ckpt/2")], IsTruncated: true, NextContinuationToken: "t1" })
      .on(ListObjectsV2Command, { ContinuationToken: "t1" })
      .resolves({ Contents: [item("ckpt/3"), item("ckpt/4")], IsTruncated: true, NextContinuationToken: "t2" })
      .on(ListObjectsV2Command, { ContinuationToken: "t2" })
      .resolves({ Contents: [item("ckpt/5")], IsTruncated: false });
    const keys: string[] = [];
    for await (const info of store.list("ckpt/")) keys.push(info.key);
    expect(keys).toEqual(["ckpt/1", "ckpt/2", "ckpt/3", "ckpt/4", "ckpt/5"]);
    expect(mock.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input)).toEqual([
      { Bucket: "b", Prefix: "runs/r1/ckpt/", MaxKeys: 2, ContinuationToken: undefined },
      { Bucket: "b", Prefix: "runs/r1/ckpt/", MaxKeys: 2, ContinuationToken: "t1" },
      { Bucket: "b", Prefix: "runs/r1/ckpt/", MaxKeys: 2, ContinuationToken: "t2" },
    ]);
  });

  it("lists the whole store with a trailing slash, so runs/r1 never sees runs/r10", async () => {
    const { mock, store } = setup();
    mock.on(ListObjectsV2Command).resolves({ Contents: [], IsTruncated: false });
    for await (const _ of store.list("")) throw new Error("nothing expected");
    expect(mock.commandCalls(ListObjectsV2Command)[0].args[0].input.Prefix).toBe("runs/r1/");
  });

  it("treats a PreconditionFailed putIfAbsent as 'already there'", async () => {
    const { mock, store } = setup();
    mock.on(PutObjectCommand).rejects(serviceError("PreconditionFailed", 412));
    expect(await store.putIfAbsent("lock.json", "{}")).toBe(false);
    expect(mock.commandCalls(PutObjectCommand)[0].args[0].input.IfNoneMatch).toBe("*");
  });
});

describe("S3ObjectStore errors", () => {
  it("turns NoSuchKey into a NotFoundError naming the s3:// URI", async () => {
    const { mock, store } = setup();
    mock
      .on(GetObjectCommand)
      .rejects(new NoSuchKey({ message: "The specified key does not exist.", $metadata: { httpStatusCode: 404 } }));
    for (const read of [() => store.get("missing.json"), () => store.getStream("missing.json")]) {
      const err = await read().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NotFoundError);
      expect((err as NotFoundError).uri).toBe("s3://b/runs/r1/missing.json");
    }
  });

  it("says head() of a missing key is undefined, and deleting one is fine", async () => {
    const { mock, store } = setup();
    mock
      .on(HeadObjectCommand)
      .rejects(serviceError("NotFound", 404))
      .on(DeleteObjectCommand)
      .rejects(new NoSuchKey({ message: "gone", $metadata: {} }));
    expect(await store.head("nope")).toBeUndefined();
    await expect(store.delete("nope")).resolves.toBeUndefined();
  });

  it("names the bucket when the bucket itself is missing", async () => {
    const { mock, store } = setup();
    mock
      .on(GetObjectCommand)
      .rejects(
        new NoSuchBucket({ message: "The specified bucket does not exist", $metadata: { httpStatusCode: 404 } }),
      );
    const err = (await store.get("x.json").catch((e: unknown) => e)) as NotFoundError;
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.uri).toBe("s3://b");
    expect(err.hint).toMatch(/create it/);
  });

  it("explains AccessDenied with the URI and the IAM action, without retrying", async () => {
    const { mock, store } = setup();
    mock.on(PutObjectCommand).rejects(serviceError("AccessDenied", 403));
    const err = (await store.put("ckpt/model.bin", new Uint8Array(4)).catch((e: unknown) => e)) as S3RequestError;
    expect(err).toBeInstanceOf(S3RequestError);
    expect(err.message).toContain("s3://b/runs/r1/ckpt/model.bin");
    expect(err.hint).toContain("s3:PutObject on arn:aws:s3:::b/*");
    expect(mock.commandCalls(PutObjectCommand)).toHaveLength(1);
  });

  it("reads a 403 from HeadObject as a possibly missing s3:ListBucket permission", async () => {
    const { mock, store } = setup();
    mock.on(HeadObjectCommand).rejects(serviceError("Forbidden", 403));
    const err = (await store.head("maybe.json").catch((e: unknown) => e)) as S3RequestError;
    expect(err.hint).toContain("s3:ListBucket");
  });

  it("reports how many attempts the SDK made before giving up", async () => {
    const { mock, store } = setup();
    mock.on(GetObjectCommand).rejects(serviceError("SlowDown", 503, 5));
    const err = (await store.get("hot.bin").catch((e: unknown) => e)) as S3RequestError;
    expect(err.message).toMatch(/^GetObject s3:\/\/b\/runs\/r1\/hot\.bin failed after 5 attempts: SlowDown/);
    expect(err.hint).toMatch(/throttling/);
  });

  it("points at credentials when there are none", async () => {
    const { mock, store } = setup();
    mock
      .on(GetObjectCommand)
      .rejects(
        Object.assign(new Error("Could not load credentials from any providers"), { name: "CredentialsProviderError" }),
      );
    const err = (await store.get("x").catch((e: unknown) => e)) as S3RequestError;
    expect(err.hint).toMatch(/AWS_PROFILE|AWS_ACCESS_KEY_ID/);
  });

  it("re-reads a body that ended short of its Content-Length", async () => {
    const { mock, store } = setup();
    mock
      .on(GetObjectCommand)
      .resolvesOnce({ Body: body("hel"), ContentLength: 5, ETag: '"e"' })
      .resolves({ Body: body("hello"), ContentLength: 5, ETag: '"e"' });
    expect(new TextDecoder().decode(await store.get("short.txt"))).toBe("hello");
    expect(mock.commandCalls(GetObjectCommand)).toHaveLength(2);
  });

  it("fails a resumed getStream with CorruptDataError when the object was replaced meanwhile", async () => {
    const { mock, store } = setup();
    const broken = new Readable({
      read() {
        this.push(Buffer.from("abc"));
        this.destroy(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }));
      },
    });
    mock
      .on(GetObjectCommand, { Range: undefined })
      .resolves({ Body: broken as never, ContentLength: 10, ETag: '"v1"' })
      .on(GetObjectCommand, { Range: "bytes=3-" })
      .rejects(serviceError("PreconditionFailed", 412));
    const stream = await store.getStream("replaced.bin");
    const err = await (async () => {
      for await (const _ of stream);
    })().catch((e: unknown) => e);
    expect((err as Error).name).toBe("CorruptDataError");
    expect((err as Error).message).toContain("s3://b/runs/r1/replaced.bin");
  });
});

describe("S3ObjectStore conditional-write probe", () => {
  it("refuses putIfAbsent when the server ignores If-None-Match, and removes its probe versions", async () => {
    const { mock, store } = setup({ verifyConditionalWrites: true });
    let version = 0;
    mock
      .on(PutObjectCommand)
      .callsFake(async () => ({ ETag: '"x"', VersionId: `v${++version}` }))
      .on(DeleteObjectCommand)
      .resolves({});
    const err = (await store.putIfAbsent("lock.json", "{}").catch((e: unknown) => e)) as IjepaError;
    expect(err).toBeInstanceOf(IjepaError);
    expect(err.message).toMatch(/ignores If-None-Match on PutObject in bucket b/);
    expect(mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key)).toEqual([
      expect.stringMatching(/^runs\/r1\/\.ijepa-probe\//),
      expect.stringMatching(/^runs\/r1\/\.ijepa-probe\//),
    ]);
    expect(mock.commandCalls(DeleteObjectCommand).map((c) => c.args[0].input.VersionId)).toEqual(["v1", "v2"]);
  });

  it("probes once per client and bucket, then writes with If-None-Match", async () => {
    const { client, mock, store } = setup({ verifyConditionalWrites: true });
    let probeWrites = 0;
    mock
      .on(PutObjectCommand)
      .callsFake(async (input: { Key: string }) => {
        if (input.Key.includes(".ijepa-probe/") && ++probeWrites === 2) throw serviceError("PreconditionFailed", 412);
        return { ETag: '"x"' };
      })
      .on(DeleteObjectCommand)
      .resolves({});
    expect(await store.putIfAbsent("lock.json", "{}")).toBe(true);
    const other = new S3ObjectStore({ bucket: "b", prefix: "runs/r2", client, verifyConditionalWrites: true });
    expect(await other.putIfAbsent("lock.json", "{}")).toBe(true);
    expect(probeWrites).toBe(2);
  });
});

describe("S3 connection settings", () => {
  it("takes the endpoint from IJEPA_S3_ENDPOINT first, and turns path style on with it", () => {
    expect(
      s3SettingsFromEnv({
        IJEPA_S3_ENDPOINT: "http://a:1",
        AWS_ENDPOINT_URL_S3: "http://b:2",
        AWS_ENDPOINT_URL: "http://c:3",
      }),
    ).toMatchObject({
      endpoint: "http://a:1",
      forcePathStyle: true,
      region: "us-east-1",
      maxAttempts: 5,
    });
    expect(s3SettingsFromEnv({ AWS_ENDPOINT_URL: "http://c:3", AWS_REGION: "eu-west-1" })).toMatchObject({
      endpoint: "http://c:3",
      forcePathStyle: true,
      region: "eu-west-1",
      maxAttempts: 5,
    });
    expect(
      s3SettingsFromEnv({ AWS_ENDPOINT_URL_S3: "http://b:2", IJEPA_S3_FORCE_PATH_STYLE: "0" }).forcePathStyle,
    ).toBe(false);
    expect(s3SettingsFromEnv({})).toMatchObject({
      endpoint: undefined,
      forcePathStyle: false,
      region: "us-east-1",
      maxAttempts: 5,
    });
  });

  it("takes the SDK's own AWS_MAX_ATTEMPTS, ignoring a value that is not a positive integer", () => {
    expect(s3SettingsFromEnv({ AWS_MAX_ATTEMPTS: "9" }).maxAttempts).toBe(9);
    expect(s3SettingsFromEnv({ AWS_MAX_ATTEMPTS: "zero" }).maxAttempts).toBe(5);
  });

  it("builds a path-style client for an endpoint override, and a plain one for AWS", async () => {
    const custom = createS3Client({ endpoint: "http://127.0.0.1:7480", region: "us-east-1" }, {});
    expect(custom.config.forcePathStyle).toBe(true);
    expect(await custom.config.maxAttempts()).toBe(5);
    const aws = createS3Client({ region: "eu-central-1" }, {});
    const fromEnv = createS3Client({}, { IJEPA_S3_ENDPOINT: "http://127.0.0.1:7480" });
    expect(fromEnv.config.forcePathStyle).toBe(true);
    expect(fromEnv.config.isCustomEndpoint).toBe(true);
    expect(aws.config.forcePathStyle).toBeFalsy();
    expect(await aws.config.region()).toBe("eu-central-1");
  });
});
