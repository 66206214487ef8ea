// The README's "may import" table and the dependency-cruiser rules say the same thing, and the layers have no cycle.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");
const config = createRequire(import.meta.url)(path.join(root, ".dependency-cruiser.cjs")) as {
  MAY_IMPORT: Record<string, string[]>;
  NOT_FROM: Record<string, string[]>;
};
const TOP_FOLDERS = ["trainer/", "functions/", "bin/", "lib/", "local/", "test/", "bench/", "scripts/"];

/** The rows of the README's table under "### The tree": folder → what it may import, and the exceptions. */
function readmeTable(): Map<string, { may: string[]; except: string[] }> {
  const readme = readFileSync(path.join(root, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("### The tree"), readme.indexOf("### A run in its store"));
  const rows = new Map<string, { may: string[]; except: string[] }>();
  for (const line of section.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    if (cells.length < 5 || !cells[1].startsWith("`")) continue;
    const folder = cells[1].replace(/`/g, "");
    const cell = cells[3];
    if (!/`/.test(cell) && cell !== "nothing") continue; // a row without code (configs/)
    // Folders of trainer/ go by their short name; everything else by its path from the repository root.
    const resolve = (token: string) =>
      TOP_FOLDERS.some((top) => token.startsWith(top)) ? token : `trainer/${token}${token.endsWith(".ts") ? "" : "/"}`;
    const tokens = (text: string) => [...text.matchAll(/`([^`]+)`/g)].map((m) => resolve(m[1]));
    const [may, except = ""] = cell.split(/\bexcept\b/);
    rows.set(folder, { may: tokens(may), except: tokens(except) });
  }
  return rows;
}

describe("the import rules", () => {
  it("are the README's table, row for row", () => {
    const table = readmeTable();
    expect([...table.keys()].sort()).toEqual(Object.keys(config.MAY_IMPORT).sort());
    for (const [folder, row] of table) {
      expect(row.may.sort(), `${folder}: may import`).toEqual([...config.MAY_IMPORT[folder]].sort());
      expect(row.except.sort(), `${folder}: except`).toEqual([...(config.NOT_FROM[folder] ?? [])].sort());
    }
  });

  it("stack the parts of trainer/ in layers: no part may import, through others, a part that may import it", () => {
    const parts = Object.keys(config.MAY_IMPORT).filter((k) => k.startsWith("trainer/"));
    const reaches = (from: string, to: string, seen = new Set<string>()): boolean =>
      (config.MAY_IMPORT[from] ?? []).some(
        (next) => next === to || (!seen.has(next) && (seen.add(next), reaches(next, to, seen))),
      );
    const cycles = parts.filter((p) => reaches(p, p));
    expect(cycles).toEqual([]);
  });
});
