// ObjectStore over an S3 bucket and key prefix: AWS S3, or any S3-compatible server (Ceph radosgw, MinIO) via an endpoint override.
import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { CorruptDataError, IjepaError, NotFoundError } from "../errors.js";
import {
  type Body,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  bodyToBytes,
  checkKey,
  checkPrefix,
} from "./object_store.js";

/*
 * Retries, and who does them:
 * - The SDK's standard retry strategy (inside S3Client.send) re-sends a request on throttling
 *   (SlowDown, 429), 500/502/503/504, and connection errors (ECONNRESET, "socket hang up", EPIPE,
 *   TimeoutError), with exponential backoff, full jitter and a retry budget. It does this for every
 *   request whose body it can replay: PutObject of bytes, and each part of a multipart Upload
 *   (lib-storage buffers parts), so a reset mid-upload costs one part, not the object.
 * - It cannot help once send() has returned: a GetObject body that breaks while being read. get()
 *   re-issues the whole request; getStream() resumes with a Range request pinned by If-Match.
 * - It does not retry 409 ConditionalRequestConflict (AWS's answer to racing conditional writes);
 *   putIfAbsent() does.
 * - A request whose body is a stream is never re-sent by the SDK; put() therefore hands streams to
 *   lib-storage's Upload, which cuts them into replayable parts.
 */

export interface S3ObjectStoreOptions {
  bucket: string;
  /** Key prefix without leading or trailing "/" ("runs/run-1"); "" or absent for the bucket root. */
  prefix?: string;
  /** Use this client as it is; endpoint, forcePathStyle, region and maxAttempts below are then ignored. */
  client?: S3Client;
  /** S3-compatible server, e.g. "http://127.0.0.1:7480". Default: env IJEPA_S3_ENDPOINT, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL. */
  endpoint?: string;
  /** Path-style URLs (http://host/bucket/key). Default: env IJEPA_S3_FORCE_PATH_STYLE, else on when an endpoint is set. */
  forcePathStyle?: boolean;
  /** Default: env AWS_REGION, then AWS_DEFAULT_REGION, then us-east-1. */
  region?: string;
  /** Attempts per request, first one included, for the SDK and for this store's own retries. Default: env AWS_MAX_ATTEMPTS, else 5. */
  maxAttempts?: number;
  /**
   * A connection idle this long (no response, or a body that stops) fails and is retried.
   * Default: env IJEPA_S3_SOCKET_TIMEOUT_MS, else 30 s.
   */
  socketTimeoutMs?: number;
  /** A connection not made within this fails and is retried. Default: env IJEPA_S3_CONNECT_TIMEOUT_MS, else 10 s. */
  connectionTimeoutMs?: number;
  /** Keys per ListObjectsV2 page (at most 1000). */
  listPageSize?: number;
  /** Byte bodies larger than this go up as multipart uploads. Default 8 MiB. */
  multipartThresholdBytes?: number;
  /** Multipart part size (S3's minimum is 5 MiB). Default 8 MiB. */
  partSizeBytes?: number;
  /** First backoff of this store's own retries, doubled per retry with full jitter. Default 100 ms. */
  retryBaseDelayMs?: number;
  /**
   * Before the first putIfAbsent, check once that the server really refuses a second If-None-Match
   * write (Ceph radosgw 16.2 silently ignores it on versioned buckets). Default: on for an endpoint
   * override, off for AWS S3, which documents it for every general purpose bucket.
   */
  verifyConditionalWrites?: boolean;
}

/** Endpoint, addressing style and region for an S3 client, from the environment. */
export interface S3ConnectionSettings {
  endpoint: string | undefined;
  forcePathStyle: boolean;
  region: string;
  /** AWS_MAX_ATTEMPTS when set (the SDK's own variable), else our default. */
  maxAttempts: number;
  /** IJEPA_S3_CONNECT_TIMEOUT_MS, else 10 s. */
  connectionTimeoutMs: number;
  /** IJEPA_S3_SOCKET_TIMEOUT_MS, else 30 s. */
  socketTimeoutMs: number;
}

const MIB = 1024 * 1024;
/** Outcome of the conditional-write probe, per client and bucket. */
const conditionalWriteChecks = new WeakMap<S3Client, Map<string, Promise<boolean>>>();
const DEFAULT_MAX_ATTEMPTS = 5;
const MAX_RETRY_DELAY_MS = 20_000;

/** Reads IJEPA_S3_ENDPOINT (or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL), IJEPA_S3_FORCE_PATH_STYLE and AWS_REGION. */
export function s3SettingsFromEnv(env: NodeJS.ProcessEnv = process.env): S3ConnectionSettings {
  const endpoint = env.IJEPA_S3_ENDPOINT || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  const pathStyle = env.IJEPA_S3_FORCE_PATH_STYLE?.trim().toLowerCase();
  const forcePathStyle =
    pathStyle === undefined || pathStyle === ""
      ? endpoint !== undefined
      : ["1", "true", "yes", "on"].includes(pathStyle);
  const attempts = Number(env.AWS_MAX_ATTEMPTS);
  const ms = (value: string | undefined, fallback: number) => {
    const n = Number(value);
    return value && Number.isInteger(n) && n >= 1 ? n : fallback;
  };
  return {
    connectionTimeoutMs: ms(env.IJEPA_S3_CONNECT_TIMEOUT_MS, CONNECTION_TIMEOUT_MS),
    socketTimeoutMs: ms(env.IJEPA_S3_SOCKET_TIMEOUT_MS, SOCKET_IDLE_TIMEOUT_MS),
    endpoint,
    forcePathStyle,
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1",
    maxAttempts: Number.isInteger(attempts) && attempts >= 1 ? attempts : DEFAULT_MAX_ATTEMPTS,
  };
}

/**
 * A connection that stops sending must fail, not hang: S3 clients get no socket timeout by default.
 * The idle timeout covers reading a body too and raises a TimeoutError, which the retries handle.
 */
const CONNECTION_TIMEOUT_MS = 10_000;
/** Also the longest wait for a response's headers: a server that accepts and never answers fails after it. */
const SOCKET_IDLE_TIMEOUT_MS = 30_000;

/** An S3Client for AWS or for the endpoint override in `settings` / the environment (see s3SettingsFromEnv). */
export function createS3Client(
  settings: {
    endpoint?: string;
    forcePathStyle?: boolean;
    region?: string;
    maxAttempts?: number;
    socketTimeoutMs?: number;
    connectionTimeoutMs?: number;
  } = {},
  processEnv: NodeJS.ProcessEnv = process.env,
): S3Client {
  const env = s3SettingsFromEnv(processEnv);
  const endpoint = settings.endpoint ?? env.endpoint;
  const config: S3ClientConfig = {
    region: settings.region ?? env.region,
    maxAttempts: settings.maxAttempts ?? env.maxAttempts,
    retryMode: "standard",
    requestHandler: {
      connectionTimeout: settings.connectionTimeoutMs ?? env.connectionTimeoutMs,
      socketTimeout: settings.socketTimeoutMs ?? env.socketTimeoutMs,
    },
  };
  if (endpoint !== undefined) {
    config.endpoint = endpoint;
    config.forcePathStyle = settings.forcePathStyle ?? (settings.endpoint !== undefined ? true : env.forcePathStyle);
    // S3-compatible servers differ in support for the CRC checksum headers the SDK adds by default
    // since early 2025, and several reject them; send checksums only where S3 requires them.
    config.requestChecksumCalculation = "WHEN_REQUIRED";
    config.responseChecksumValidation = "WHEN_REQUIRED";
  } else if (settings.forcePathStyle !== undefined) {
    config.forcePathStyle = settings.forcePathStyle;
  }
  return new S3Client(config);
}

/** An S3 request that failed for good: names the operation, the URI and how many attempts were made. */
export class S3RequestError extends IjepaError {
  readonly uri: string;
  readonly operation: string;
  readonly attempts: number;
  /** S3 error code or Node error code, e.g. "SlowDown", "ECONNRESET". */
  readonly code: string;
  override readonly cause: unknown;
  constructor(operation: string, uri: string, attempts: number, cause: unknown, hint?: string) {
    const code = errorCode(cause);
    super(
      `${operation} ${uri} failed after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${code}: ${(cause as Error)?.message ?? String(cause)}`,
      hint,
    );
    this.uri = uri;
    this.operation = operation;
    this.attempts = attempts;
    this.code = code;
    this.cause = cause;
  }
}

export class S3ObjectStore implements ObjectStore {
  readonly baseUri: string;
  readonly bucket: string;
  /** Key prefix without trailing "/", "" for the bucket root. */
  readonly prefix: string;
  readonly client: S3Client;
  private readonly maxAttempts: number;
  private readonly listPageSize: number;
  /** Where requests go, for messages: the endpoint override, or "AWS S3 (<region>)". */
  private readonly endpointLabel: string;
  private readonly timeoutsLabel: string;
  private readonly multipartThresholdBytes: number;
  private readonly partSizeBytes: number;
  private readonly retryBaseDelayMs: number;
  private readonly verifyConditionalWrites: boolean;

  constructor(options: S3ObjectStoreOptions) {
    this.bucket = options.bucket;
    if (!this.bucket || /[/\s]/.test(this.bucket)) {
      throw new IjepaError(
        `invalid S3 bucket name ${JSON.stringify(this.bucket)}`,
        'give the bare bucket name, e.g. "my-runs"',
      );
    }
    this.prefix = (options.prefix ?? "").replace(/^\/+|\/+$/g, "");
    if (this.prefix) checkKey(this.prefix);
    this.baseUri = this.prefix ? `s3://${this.bucket}/${this.prefix}` : `s3://${this.bucket}`;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? s3SettingsFromEnv().maxAttempts);
    this.listPageSize = Math.min(1000, Math.max(1, options.listPageSize ?? 1000));
    this.multipartThresholdBytes = options.multipartThresholdBytes ?? 8 * MIB;
    this.partSizeBytes = Math.max(5 * MIB, options.partSizeBytes ?? 8 * MIB);
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? 100;

    this.client = options.client ?? createS3Client({ ...options, maxAttempts: this.maxAttempts });
    const env = s3SettingsFromEnv();
    this.endpointLabel = options.endpoint ?? env.endpoint ?? `AWS S3 (${options.region ?? env.region})`;
    this.timeoutsLabel =
      `connect ${((options.connectionTimeoutMs ?? env.connectionTimeoutMs) / 1000).toFixed(1)} s, ` +
      `no answer ${((options.socketTimeoutMs ?? env.socketTimeoutMs) / 1000).toFixed(1)} s`;
    this.verifyConditionalWrites = options.verifyConditionalWrites ?? isCustomEndpoint(this.client);
  }

  uriOf(key: string): string {
    return `${this.baseUri}/${checkKey(key)}`;
  }

  async get(key: string): Promise<Uint8Array> {
    const uri = this.uriOf(key);
    for (let attempt = 1; ; attempt++) {
      const response = await this.call("GetObject", uri, () =>
        this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) })),
      );
      try {
        return await readWholeBody(response);
      } catch (err) {
        if (!isConnectionError(err) || attempt >= this.maxAttempts)
          throw this.translate(err, "GetObject", uri, attempt);
        await this.backoff(attempt);
      }
    }
  }

  async getStream(key: string): Promise<Readable> {
    const uri = this.uriOf(key);
    const objectKey = this.objectKey(key);
    const first = await this.call("GetObject", uri, () =>
      this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: objectKey })),
    );
    const total = first.ContentLength;
    const etag = first.ETag;
    const store = this;
    async function* resumingChunks(): AsyncGenerator<Buffer> {
      let response: GetObjectCommandOutput = first;
      let offset = 0;
      for (let failures = 0; ; ) {
        try {
          for await (const chunk of response.Body as AsyncIterable<Uint8Array>) {
            offset += chunk.byteLength;
            yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
          }
          if (total !== undefined && offset < total) throw truncatedBody(offset, total);
          return;
        } catch (err) {
          // Every byte arrived before the connection dropped: there is nothing left to resume.
          if (total !== undefined && offset >= total && isConnectionError(err)) return;
          failures++;
          if (!isConnectionError(err) || failures >= store.maxAttempts)
            throw store.translate(err, "GetObject", uri, failures);
          await store.backoff(failures);
          response = await store.resume(uri, objectKey, offset, etag);
        }
      }
    }
    return Readable.from(resumingChunks(), { objectMode: false });
  }

  async put(key: string, body: Body, options: PutOptions = {}): Promise<{ etag: string }> {
    const uri = this.uriOf(key);
    if (typeof body === "string" || body instanceof Uint8Array) {
      const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
      if (bytes.byteLength <= this.multipartThresholdBytes) {
        const out = await this.call("PutObject", uri, () =>
          this.client.send(
            new PutObjectCommand({
              Bucket: this.bucket,
              Key: this.objectKey(key),
              Body: bytes,
              ContentType: options.contentType,
            }),
          ),
        );
        return { etag: out.ETag ?? "" };
      }
      return this.upload(key, bytes, options);
    }
    return this.upload(key, body, options);
  }

  /**
   * PutObject with If-None-Match: "*". That is atomic on AWS S3 (every general purpose bucket,
   * versioned or not) and on Ceph radosgw 16.2 in buckets without versioning (412 for the losers).
   * radosgw 16.2 ignores the header in versioned buckets and lets every writer win, so for
   * non-AWS endpoints the store first checks the bucket once (see verifyConditionalWrites) and
   * refuses rather than hand out a lock that is not one.
   */
  async putIfAbsent(key: string, body: Body, options: PutOptions = {}): Promise<boolean> {
    const uri = this.uriOf(key);
    await this.checkConditionalWrites();
    // Pointer and lock documents are small; a plain PutObject with If-None-Match is the one atomic create-if-absent S3 has.
    const bytes = await bodyToBytes(body);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: this.objectKey(key),
            Body: bytes,
            ContentType: options.contentType,
            IfNoneMatch: "*",
          }),
        );
        return true;
      } catch (err) {
        if (isPreconditionFailed(err)) {
          // When the SDK re-sent the request after a lost response, the 412 may answer our own first write.
          if (sdkAttempts(err) > 1) return this.holdsBytes(key, bytes);
          return false;
        }
        if (isConditionalConflict(err) && attempt < this.maxAttempts) {
          await this.backoff(attempt);
          continue;
        }
        throw this.translate(err, "PutObject", uri, Math.max(attempt, sdkAttempts(err)));
      }
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const uri = this.uriOf(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return {
        key,
        sizeBytes: out.ContentLength ?? 0,
        etag: out.ETag ?? "",
        lastModified: out.LastModified ?? new Date(0),
      };
    } catch (err) {
      if (isMissingKey(err)) return undefined;
      throw this.translate(err, "HeadObject", uri);
    }
  }

  /**
   * Pages through ListObjectsV2. Keys come in S3's order, UTF-8 byte order; that equals the UTF-16
   * sort() order LocalObjectStore uses except between characters above U+FFFF and U+E000..U+FFFF.
   */
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    checkPrefix(prefix);
    const base = this.prefix ? `${this.prefix}/` : "";
    let continuationToken: string | undefined;
    do {
      const page = await this.call("ListObjectsV2", `${this.baseUri}/${prefix}`, () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: base + prefix,
            MaxKeys: this.listPageSize,
            ContinuationToken: continuationToken,
          }),
        ),
      );
      for (const item of page.Contents ?? []) {
        if (!item.Key?.startsWith(base)) continue;
        yield {
          key: item.Key.slice(base.length),
          sizeBytes: item.Size ?? 0,
          etag: item.ETag ?? "",
          lastModified: item.LastModified ?? new Date(0),
        };
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
  }

  async delete(key: string): Promise<void> {
    const uri = this.uriOf(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
    } catch (err) {
      if (isMissingKey(err)) return;
      throw this.translate(err, "DeleteObject", uri);
    }
  }

  async publish(key: string, document: unknown): Promise<void> {
    // One PutObject replaces an object atomically: readers get the old or the new version, never a mix.
    await this.put(key, JSON.stringify(document, null, 2) + "\n", { contentType: "application/json" });
  }

  private objectKey(key: string): string {
    checkKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  private async upload(key: string, body: Uint8Array | Readable, options: PutOptions): Promise<{ etag: string }> {
    const uri = this.uriOf(key);
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.objectKey(key), Body: body, ContentType: options.contentType },
      partSize: this.partSizeBytes,
      queueSize: 4,
      // On failure lib-storage aborts the multipart upload, so no orphaned parts keep costing storage.
      leavePartsOnError: false,
    });
    let etag: string | undefined;
    try {
      etag = (await upload.done()).ETag;
    } catch (err) {
      throw this.translate(err, "Upload", uri);
    }
    // radosgw 16.2 answers CompleteMultipartUpload with an empty <ETag/>; ask for it.
    if (!etag) etag = (await this.head(key))?.etag;
    return { etag: etag ?? "" };
  }

  /** Runs one SDK call; the SDK has retried it already, so a failure here is final and gets translated. */
  private async call<T>(operation: string, uri: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (err) {
      throw this.translate(err, operation, uri);
    }
  }

  /** Re-requests the rest of an object from `offset`; If-Match makes S3 refuse (412) if the object was replaced meanwhile. */
  private async resume(
    uri: string,
    objectKey: string,
    offset: number,
    etag: string | undefined,
  ): Promise<GetObjectCommandOutput> {
    try {
      return await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: objectKey, Range: `bytes=${offset}-`, IfMatch: etag }),
      );
    } catch (err) {
      if (isPreconditionFailed(err)) {
        throw new CorruptDataError(
          uri,
          `replaced while being read (connection dropped after ${offset} bytes, and the object changed before the rest could be fetched)`,
          "read it again",
        );
      }
      throw this.translate(err, "GetObject", uri);
    }
  }

  private async backoff(retry: number): Promise<void> {
    const cap = Math.min(MAX_RETRY_DELAY_MS, this.retryBaseDelayMs * 2 ** (retry - 1));
    await new Promise((resolve) => setTimeout(resolve, Math.random() * cap));
  }

  /** True when the object at `key` holds exactly `bytes` (our own earlier attempt landed). */
  private async holdsBytes(key: string, bytes: Uint8Array): Promise<boolean> {
    try {
      return Buffer.from(await this.get(key)).equals(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (err) {
      if (err instanceof NotFoundError) return false;
      throw err;
    }
  }

  /** Probes once per client and bucket (stores opened on other prefixes of the bucket share the answer). */
  private checkConditionalWrites(): Promise<void> {
    if (!this.verifyConditionalWrites) return Promise.resolve();
    let byBucket = conditionalWriteChecks.get(this.client);
    if (!byBucket) {
      byBucket = new Map();
      conditionalWriteChecks.set(this.client, byBucket);
    }
    let honoured = byBucket.get(this.bucket);
    if (!honoured) {
      honoured = this.probeConditionalWrites();
      byBucket.set(this.bucket, honoured);
      honoured.catch(() => byBucket.delete(this.bucket)); // a failed probe (network, missing bucket) is asked again next time
    }
    return honoured.then((ok) => {
      if (!ok) {
        throw new IjepaError(
          `the S3 server behind ${this.baseUri} ignores If-None-Match on PutObject in bucket ${this.bucket}, so putIfAbsent cannot be atomic there`,
          "Ceph radosgw 16.2 ignores it in buckets with versioning enabled or suspended: keep runs in a bucket that never had versioning, or upgrade the server",
        );
      }
    });
  }

  /** Writes a probe object twice with If-None-Match: "*"; true when the second write is refused, as it must be. */
  private async probeConditionalWrites(): Promise<boolean> {
    const probeKey = `.ijepa-probe/put-if-absent-${randomBytes(8).toString("hex")}`;
    const uri = this.uriOf(probeKey);
    const versions: (string | undefined)[] = [];
    let secondRefused = false;
    try {
      for (let i = 0; i < 2; i++) {
        try {
          const out = await this.client.send(
            new PutObjectCommand({
              Bucket: this.bucket,
              Key: this.objectKey(probeKey),
              Body: `probe ${i}`,
              IfNoneMatch: "*",
            }),
          );
          versions.push(out.VersionId);
        } catch (err) {
          if (i === 1 && isPreconditionFailed(err)) secondRefused = true;
          else throw this.translate(err, "PutObject", uri);
        }
      }
    } finally {
      for (const versionId of versions.length ? versions : [undefined]) {
        await this.client
          .send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(probeKey), VersionId: versionId }))
          .catch(() => undefined);
      }
    }
    return secondRefused;
  }

  /** Maps an SDK error to NotFoundError / an access error / S3RequestError, each naming the URI. */
  private translate(err: unknown, operation: string, uri: string, attempts?: number): Error {
    if (err instanceof IjepaError) return err;
    const code = errorCode(err);
    const status = httpStatus(err);
    if (code === "NoSuchBucket") {
      return new NotFoundError(
        `s3://${this.bucket}`,
        `bucket ${this.bucket} does not exist (needed for ${uri}): create it, or fix the bucket in the URI`,
      );
    }
    if (isMissingKey(err)) {
      return new NotFoundError(uri, "check the URI, or that the step that writes it has run");
    }
    if (code === "AccessDenied" || code === "Forbidden" || status === 403) {
      const hint =
        operation === "HeadObject"
          ? `S3 answers 403 instead of 404 for a missing key when the caller lacks s3:ListBucket; grant s3:GetObject and s3:ListBucket on arn:aws:s3:::${this.bucket} to the role, or check the credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID)`
          : `grant ${iamActionOf(operation)} on arn:aws:s3:::${this.bucket}${operation === "ListObjectsV2" ? "" : "/*"} to the IAM role or user, or check the credentials in use (AWS_PROFILE, AWS_ACCESS_KEY_ID)`;
      return new S3RequestError(operation, uri, attempts ?? sdkAttempts(err), err, hint);
    }
    if (code === "CredentialsProviderError" || code === "InvalidAccessKeyId" || code === "SignatureDoesNotMatch") {
      return new S3RequestError(
        operation,
        uri,
        attempts ?? sdkAttempts(err),
        err,
        "no valid AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (and IJEPA_S3_ENDPOINT for an S3-compatible server)",
      );
    }
    if (isConnectionError(err)) {
      return new S3RequestError(
        operation,
        uri,
        attempts ?? sdkAttempts(err),
        err,
        `no answer from the S3 endpoint ${this.endpointLabel} (timeouts: ${this.timeoutsLabel}): ` +
          "check that it is the right endpoint and that it is up and reachable (IJEPA_S3_ENDPOINT); " +
          "raise IJEPA_S3_SOCKET_TIMEOUT_MS for a slow one",
      );
    }
    return new S3RequestError(
      operation,
      uri,
      attempts ?? sdkAttempts(err),
      err,
      isRetryable(err)
        ? "S3 kept failing with a retryable error (throttling, 5xx or dropped connections): check the endpoint and network, try again later, or raise AWS_MAX_ATTEMPTS"
        : undefined,
    );
  }
}

/** Reads a GetObject body completely, failing (retryably) if it ends short of Content-Length. */
async function readWholeBody(response: GetObjectCommandOutput): Promise<Uint8Array> {
  const bytes = await bodyToBytes(response.Body as Readable);
  const expected = response.ContentLength;
  if (expected !== undefined && bytes.byteLength !== expected) throw truncatedBody(bytes.byteLength, expected);
  return bytes;
}

function truncatedBody(received: number, expected: number): Error {
  return Object.assign(new Error(`response body ended after ${received} of ${expected} bytes`), {
    code: "ERR_STREAM_PREMATURE_CLOSE",
  });
}

function isCustomEndpoint(client: S3Client): boolean {
  return (client.config as { isCustomEndpoint?: boolean }).isCustomEndpoint === true;
}

function errorCode(err: unknown): string {
  const e = err as { name?: string; code?: string; Code?: string };
  return e?.Code ?? (e?.name && e.name !== "Error" ? e.name : undefined) ?? e?.code ?? "Error";
}

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function sdkAttempts(err: unknown): number {
  return (err as { $metadata?: { attempts?: number } })?.$metadata?.attempts ?? 1;
}

function isMissingKey(err: unknown): boolean {
  const code = errorCode(err);
  return code === "NoSuchKey" || code === "NotFound" || (httpStatus(err) === 404 && code !== "NoSuchBucket");
}

function isPreconditionFailed(err: unknown): boolean {
  return errorCode(err) === "PreconditionFailed" || httpStatus(err) === 412;
}

function isConditionalConflict(err: unknown): boolean {
  return errorCode(err) === "ConditionalRequestConflict" || httpStatus(err) === 409;
}

const CONNECTION_ERROR_CODES = new Set([
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ECONNABORTED",
  "ECONNREFUSED",
  "ERR_STREAM_PREMATURE_CLOSE",
]);

/** A dropped or stalled connection (while reading a body, after the SDK's own retries no longer apply). */
function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; name?: string; message?: string };
  return (
    CONNECTION_ERROR_CODES.has(e?.code ?? "") || e?.name === "TimeoutError" || /socket hang up/i.test(e?.message ?? "")
  );
}

/** What the SDK's standard strategy retries: used only to word the final error. */
function isRetryable(err: unknown): boolean {
  const code = errorCode(err);
  const status = httpStatus(err) ?? 0;
  return (
    isConnectionError(err) ||
    code === "SlowDown" ||
    code === "Throttling" ||
    status === 429 ||
    (status >= 500 && status <= 599)
  );
}

function iamActionOf(operation: string): string {
  switch (operation) {
    case "GetObject":
      return "s3:GetObject";
    case "ListObjectsV2":
      return "s3:ListBucket";
    case "DeleteObject":
      return "s3:DeleteObject";
    default:
      return "s3:PutObject";
  }
}
