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
  },
});
