// Vitest globalSetup: starts one radosgw for the whole test run and hands its endpoint and keys to test files via provide("s3Server").
import type { TestProject } from "vitest/node";
import type { ProvidedS3Server } from "../support/s3_test_bucket.js";
import { CEPH_INSTALL_HINT, missingCephBinaries, startS3Server } from "../support/s3_server.js";

/**
 * Tests read the server with s3TestServer() / makeTestBucket() from test/support/s3_test_bucket.ts.
 * Without the ceph binaries: with env CI set the run fails here; otherwise S3 tests skip, saying why.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const missing = missingCephBinaries();
  if (missing.length > 0) {
    const reason = `S3 integration tests skipped: ${missing.join(", ")} not installed (install with: ${CEPH_INSTALL_HINT})`;
    if (process.env.CI) throw new Error(`${reason.replace("skipped", "cannot run")}; CI must run them`);
    console.warn(`\n${"!".repeat(100)}\n!! ${reason}\n${"!".repeat(100)}\n`);
    project.provide("s3Server", { unavailable: reason } satisfies ProvidedS3Server);
    return undefined;
  }
  const server = await startS3Server();
  console.log(`test S3 server (Ceph radosgw) at ${server.endpoint}, ready in ${server.startupSeconds.toFixed(1)} s`);
  project.provide("s3Server", {
    endpoint: server.endpoint,
    accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey,
    region: server.region,
  } satisfies ProvidedS3Server);
  return () => server.stop();
}
