// One full synth as `npx cdk synth` runs it: CloudFormation validation on, the trainer image as an asset staged
// without Docker from the .dockerignore-filtered repository.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildApp } from "../../bin/cdk_app.js";

describe("full synth (with validation)", () => {
  delete process.env.CDK_VALIDATION;
  const outdir = mkdtempSync(path.join(os.tmpdir(), "ijepa-synth-"));
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it("synthesizes with no credentials and stages only the trainer's runtime files for the image", () => {
    const { app, stack } = buildApp({}, { outdir });
    const assembly = app.synth();
    expect(assembly.getStackArtifact(stack.artifactId).template.Resources).toBeDefined();

    const assets = JSON.parse(readFileSync(path.join(assembly.directory, `${stack.artifactId}.assets.json`), "utf8"));
    const images = Object.values<{ source: { directory: string; dockerFile: string; platform: string } }>(
      assets.dockerImages,
    );
    expect(images).toHaveLength(1);
    expect(images[0].source).toMatchObject({ dockerFile: "trainer/Dockerfile", platform: "linux/amd64" });
    const staged = path.join(assembly.directory, images[0].source.directory);
    expect(readdirSync(staged).sort()).toEqual([
      ".dockerignore",
      "bin",
      "configs",
      "functions",
      "package-lock.json",
      "package.json",
      "scripts",
      "trainer",
    ]);
    // Of scripts/ only what the image's npm ci runs (postinstall), not the repo's build and check scripts.
    expect(readdirSync(path.join(staged, "scripts"))).toEqual(["build-native-kernels.js"]);
    expect(existsSync(path.join(staged, "trainer", "Dockerfile"))).toBe(true); // excluded from COPY, kept for the build
    expect(existsSync(path.join(staged, "node_modules"))).toBe(false);
    expect(existsSync(path.join(staged, "test"))).toBe(false);
  });
});
