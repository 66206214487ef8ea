// Test-side access to the radosgw that test/setup/global_s3.ts starts: its endpoint and keys, fresh buckets, env for child processes.
import { CreateBucketCommand, PutBucketVersioningCommand, S3Client } from "@aws-sdk/client-s3";
import { describe, inject, it } from "vitest";
import { S3ObjectStore, type S3ObjectStoreOptions } from "../../trainer/storage/s3_store.js";
import { CEPH_INSTALL_HINT, uniqueBucketName } from "./s3_server.js";

/** Endpoint and credentials of the run's test S3 server. */
export interface S3TestServer {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

/** What global_s3.ts hands to every test file: the server, or why there is none. */
export type ProvidedS3Server = S3TestServer | { unavailable: string };

declare module "vitest" {
  export interface ProvidedContext {
    s3Server: ProvidedS3Server;
  }
}

/**
 * The test S3 server, or the reason it is missing (then S3 tests skip with that reason).
 * With env CI set, a missing server is an error: nothing is skipped in CI.
 */
export function s3TestServer():
  | { server: S3TestServer; skipReason?: undefined }
  | { server?: undefined; skipReason: string } {
  const provided = inject("s3Server") as ProvidedS3Server | undefined;
  const reason =
    provided === undefined
      ? "no test S3 server: register test/setup/global_s3.ts in vitest.config.ts (test.globalSetup)"
      : "unavailable" in provided
        ? provided.unavailable
        : undefined;
  if (reason === undefined) return { server: provided as S3TestServer };
  if (process.env.CI)
    throw new Error(
      `${reason} (CI is set, so S3 integration tests may not be skipped; install with: ${CEPH_INSTALL_HINT})`,
    );
  return { skipReason: reason };
}

/**
 * Declares a file's S3 integration tests: `declare(server)` with the test server, or, when there is none
 * (and CI is not set), one skipped test under `name` whose title says why.
 */
export function withS3Server(name: string, declare: (server: S3TestServer) => void): void {
  const { server, skipReason } = s3TestServer();
  if (server) declare(server);
  else describe(name, () => it.skip(skipReason, () => undefined));
}

/** A client for the test server with its fixed keys, path-style addressing and the same retry settings the store uses by default. */
export function testS3Client(
  server: S3TestServer,
  overrides: ConstructorParameters<typeof S3Client>[0] = {},
): S3Client {
  return new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    maxAttempts: 5,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    ...overrides,
  });
}

export interface TestBucket {
  bucket: string;
  client: S3Client;
  server: S3TestServer;
  /** A store on this bucket under `prefix`, using this bucket's client unless the options bring their own. */
  store(prefix?: string, options?: Partial<S3ObjectStoreOptions>): S3ObjectStore;
}

/**
 * Creates a bucket named "<name>-<random>" on the test server (so test files never share one).
 * `versioning: true` turns bucket versioning on.
 */
export async function makeTestBucket(name: string, options: { versioning?: boolean } = {}): Promise<TestBucket> {
  const { server, skipReason } = s3TestServer();
  if (!server) throw new Error(`makeTestBucket(${JSON.stringify(name)}): ${skipReason}`);
  const client = testS3Client(server);
  const bucket = uniqueBucketName(name);
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  if (options.versioning) {
    await client.send(
      new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }),
    );
  }
  return {
    bucket,
    client,
    server,
    store: (prefix = "", storeOptions = {}) => new S3ObjectStore({ bucket, prefix, client, ...storeOptions }),
  };
}

/** Environment for a child process (CLI, Batch entrypoint) that should use the test server through openStore(). */
export function s3TestEnv(server: S3TestServer): Record<string, string> {
  return {
    IJEPA_S3_ENDPOINT: server.endpoint,
    IJEPA_S3_FORCE_PATH_STYLE: "1",
    AWS_ACCESS_KEY_ID: server.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
    AWS_REGION: server.region,
  };
}
