// --config: a preset name, a local file, or an object in a store (the run's config.yaml on S3).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfigArg } from "../../trainer/run/config_source.js";
import { ConfigError, NotFoundError } from "../../trainer/errors.js";
import { LocalObjectStore } from "../../trainer/storage/local_store.js";

describe("loadConfigArg", () => {
  it("loads a preset by name and records the name", async () => {
    const { config, configName } = await loadConfigArg("gpu-vits16-224");
    expect(configName).toBe("gpu-vits16-224");
    expect(config.meta.model_name).toBe("vit_small");
  });

  it("reads a config from a store URI through the store opener, naming errors by the URI", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ijepa-cfg-"));
    const store = new LocalObjectStore(dir);
    const yaml = (await import("node:fs")).readFileSync(path.resolve(__dirname, "../../configs/smoke.yaml"), "utf8");
    await store.put("config.yaml", yaml);
    await store.put("bad.yaml", "meta: {model_name: vit_enormous}");
    const opened: string[] = [];
    const open = (uri: string) => {
      opened.push(uri);
      return { store, key: uri.replace("s3://bucket/run-1/", "") };
    };
    const loaded = await loadConfigArg("s3://bucket/run-1/config.yaml", open);
    expect(opened).toEqual(["s3://bucket/run-1/config.yaml"]);
    expect(loaded.configName).toBe("config");
    expect(loaded.config.data.crop_size).toBeGreaterThan(0);
    await expect(loadConfigArg("s3://bucket/run-1/missing.yaml", open)).rejects.toThrow(NotFoundError);
    await expect(loadConfigArg("s3://bucket/run-1/bad.yaml", open)).rejects.toThrow(ConfigError);
    await expect(loadConfigArg("s3://bucket/run-1/bad.yaml", open)).rejects.toThrow(
      /^s3:\/\/bucket\/run-1\/bad\.yaml: /,
    );
  });

  it("loads a local file given as a path or a file:// URI", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ijepa-cfg-"));
    const file = path.join(dir, "mine.yaml");
    writeFileSync(file, (await import("node:fs")).readFileSync(path.resolve(__dirname, "../../configs/smoke.yaml")));
    expect((await loadConfigArg(file)).configName).toBe("mine");
    expect((await loadConfigArg(`file://${file}`)).configName).toBe("mine");
  });
});
