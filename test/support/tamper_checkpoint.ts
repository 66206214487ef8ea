// Damaging a checkpoint as a user or a diverged run could: an edited state.json, NaN weights with valid checksums.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { decodeSafetensors, encodeSafetensors } from "../../trainer/checkpoint/safetensors.js";
import { sha256Hex } from "../../trainer/utils/sha256.js";

const folder = (run: string, step: number) => path.join(run, "checkpoints", String(step).padStart(8, "0"));

/** Rewrites checkpoints/<step>/state.json through `edit` (the checksums of the other files stay valid). */
export function editState(
  run: string,
  step: number,
  edit: (doc: { state: Record<string, any> } & Record<string, any>) => void,
): void {
  const file = path.join(folder(run, step), "state.json");
  const doc = JSON.parse(readFileSync(file, "utf8"));
  edit(doc);
  writeFileSync(file, JSON.stringify(doc, null, 2) + "\n");
}

/** Puts NaN into the first tensor whose name matches and records the file's new checksum, as a diverged run would. */
export function poisonWeights(run: string, step: number, match: RegExp): string {
  const file = path.join(folder(run, step), "model.safetensors");
  const decoded = decodeSafetensors(readFileSync(file), file);
  const tensors = [...decoded.tensors].map(([name, t]) => ({ ...t, name }));
  const victim = tensors.find((t) => match.test(t.name))!;
  (victim.data as Float32Array)[0] = Number.NaN;
  const bytes = encodeSafetensors(tensors as never, decoded.metadata);
  writeFileSync(file, bytes);
  editState(run, step, (doc) => {
    doc.files["model.safetensors"] = { sha256: sha256Hex(bytes), sizeBytes: bytes.byteLength };
  });
  return victim.name;
}
