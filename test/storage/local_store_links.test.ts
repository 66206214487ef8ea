// LocalObjectStore.list follows symbolic links (folders of linked images are common) and lists only its own temp files as hidden.
import { mkdtempSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { LocalObjectStore } from "../../trainer/storage/local_store.js";

async function keys(store: LocalObjectStore, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const info of store.list(prefix)) out.push(info.key);
  return out;
}

describe("LocalObjectStore.list", () => {
  it("lists files reached through symbolic links to files and folders, once, without looping on a cycle", async () => {
    const real = mkdtempSync(path.join(tmpdir(), "ijepa-real-"));
    mkdirSync(path.join(real, "cats"));
    writeFileSync(path.join(real, "cats", "1.png"), "a");
    writeFileSync(path.join(real, "top.png"), "b");
    const root = mkdtempSync(path.join(tmpdir(), "ijepa-links-"));
    symlinkSync(path.join(real, "cats"), path.join(root, "cats"));
    symlinkSync(path.join(real, "top.png"), path.join(root, "top.png"));
    symlinkSync(root, path.join(root, "loop"));
    symlinkSync(path.join(real, "missing"), path.join(root, "dangling.png"));
    const store = new LocalObjectStore(root);
    expect(await keys(store)).toEqual(["cats/1.png", "top.png"]);
    expect(new TextDecoder().decode(await store.get("cats/1.png"))).toBe("a");
  });

  it("hides only its own temp files", async () => {
    const root = mkdtempSync(path.join(tmpdir(), "ijepa-temp-"));
    writeFileSync(path.join(root, "photo.tmp-1.jpg"), "real");
    writeFileSync(path.join(root, ".x.json.tmp-123-0123456789ab"), "temp");
    expect(await keys(new LocalObjectStore(root))).toEqual(["photo.tmp-1.jpg"]);
  });
});
