// Test runner settings: tests mirror the tree under test/; slow trainer tests run in forks so a
// wasm heap never outlives its file.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 180_000,
    globalSetup: ["test/setup/global_s3.ts"],
    // The AWS SDK warns on Node 20 that its 2027 releases will need Node 22; our lockfile pins it.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  },
});
