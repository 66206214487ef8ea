// Every file under a folder with its SHA-256, to check that a refused command left pre-existing files byte-identical.
import { createHash } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";

/** relative path → sha256 of its bytes, for every regular file under `dir` (links are not followed). */
export async function snapshotFiles(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (sub: string): Promise<void> => {
    for (const entry of await fs.readdir(path.join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(rel);
      else if (entry.isFile())
        out.set(
          rel,
          createHash("sha256")
            .update(await fs.readFile(path.join(dir, rel)))
            .digest("hex"),
        );
    }
  };
  await walk("");
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}

/** The files of `before` that are missing or changed in `after` (empty when every one is byte-identical). */
export function changedFiles(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...before].filter(([file, hash]) => after.get(file) !== hash).map(([file]) => file);
}
