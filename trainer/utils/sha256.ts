// Lower-case hex SHA-256 of bytes: the checksum manifests and checkpoints record.
import { createHash } from "node:crypto";

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
