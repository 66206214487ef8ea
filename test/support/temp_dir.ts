// A fresh empty folder for a test, under the OS temp dir: the one helper every test uses for scratch space.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/** Creates `<tmp>/ijepa-<label>-XXXXXX`; the label says which test left a folder behind. */
export function tempDir(label = "test"): string {
  return mkdtempSync(path.join(tmpdir(), `ijepa-${label}-`));
}
