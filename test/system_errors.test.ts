// What reaches the user when the system says no: one line naming the thing and the fix, never a raw ENOTDIR.
import { writeFileSync } from "node:fs";
import * as fs from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { MAX_CONFIG_BYTES, loadConfigFile } from "../trainer/config/load_config.js";
import { parseManifest } from "../trainer/data/manifest.js";
import { shardDataset } from "../trainer/data/shard_writer.js";
import { ConfigError, IjepaError } from "../trainer/errors.js";
import { InvalidKeyError } from "../trainer/storage/object_store.js";
import { LocalObjectStore } from "../trainer/storage/local_store.js";
import { requireFolderLocation } from "../trainer/storage/folder_location.js";
import { explainError, formatCliError } from "../trainer/system_errors.js";
import { writeIdxFolder } from "./data/fixtures.js";
import { tempDir } from "./support/temp_dir.js";
import { longListYaml } from "./support/hostile_inputs.js";

const errnoError = (code: string, p: string) =>
  Object.assign(new Error(`${code}: failed, open '${p}'`), { code, path: p, syscall: "open" });

describe("errors from the system, explained", () => {
  it.each([
    ["ENOTDIR", /\/x\/out: part of this path is a file, not a folder\n {2}fix: give a folder/],
    ["EISDIR", /\/x\/out is a folder where a file was expected/],
    [
      "ENOSPC",
      /no space left on the device while writing \/x\/out\n {2}fix: .*run the same command again once there is room/,
    ],
    ["ENOENT", /\/x\/out: no such file or folder/],
    ["EROFS", /\/x\/out is on a read-only file system/],
  ])("%s names the path and the fix, without a stack trace", (code, message) => {
    const text = formatCliError(errnoError(code, "/x/out"), false);
    expect(text).toMatch(message);
    expect(text).not.toMatch(/\n\s+at /);
    expect(text.split("\n").length).toBeLessThanOrEqual(2);
  });

  it("turns a RangeError or TypeError into one line pointing at IJEPA_DEBUG=1, which adds the stack", () => {
    const err = new TypeError("Cannot read properties of undefined (reading 'batch_size')");
    expect(formatCliError(err, false)).toMatch(
      /^error: unexpected TypeError: Cannot read properties .*\n {2}fix: .*IJEPA_DEBUG=1/,
    );
    expect(formatCliError(err, true)).toMatch(/\n\s+at /);
    expect(explainError(new RangeError("Array buffer allocation failed")).message).toMatch(
      /a size limit of the runtime was exceeded/,
    );
  });

  it("refuses a config that is a folder, a device or over the size limit, before reading it", async () => {
    const dir = await tempDir();
    await expect(loadConfigFile(dir)).rejects.toThrow(/is a folder/);
    await expect(loadConfigFile("/dev/zero")).rejects.toThrow(/is not a regular file/);
    const big = path.join(dir, "big.yaml");
    writeFileSync(big, longListYaml(MAX_CONFIG_BYTES + 1000));
    await expect(loadConfigFile(big)).rejects.toThrow(
      new RegExp(`over the ${MAX_CONFIG_BYTES} bytes a config may have`),
    );
  });

  it("refuses --out that is a file, naming it", async () => {
    const dir = await tempDir();
    const file = path.join(dir, "notes.txt");
    writeFileSync(file, "x");
    expect(() => requireFolderLocation(file, "--out")).toThrow(ConfigError);
    expect(() => requireFolderLocation(file, "--out")).toThrow(
      /--out .*notes\.txt is a file, but --out names a folder/,
    );
    expect(() => requireFolderLocation(path.join(dir, "new"), "--out")).not.toThrow();
    const src = await writeIdxFolder(await tempDir());
    await expect(shardDataset({ source: src, format: "idx", output: file })).rejects.toThrow(/is a file/);
    expect(await fs.readFile(file, "utf8")).toBe("x");
  });

  it("names a key with '..' or a leading '/' invalid (an IjepaError); a manifest holding one is refused", async () => {
    const store = new LocalObjectStore(await tempDir());
    await expect(store.get("../etc/passwd")).rejects.toThrow(InvalidKeyError);
    expect(() => store.uriOf("/etc/passwd")).toThrow(IjepaError);
    const src = await writeIdxFolder(await tempDir());
    const out = await tempDir();
    const { manifest } = await shardDataset({ source: src, format: "idx", output: out, shardSize: 50 });
    for (const key of ["../../etc/passwd", "/etc/passwd", "shards/../x.npy"]) {
      const tampered = structuredClone(manifest);
      tampered.splits.train.shards[0].images.key = key;
      expect(() => parseManifest(tampered, "m.json")).toThrow(
        /images\.key: expected a relative key inside the dataset folder/,
      );
    }
  });
});
