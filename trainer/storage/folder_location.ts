// A location a command writes into must be a folder (or not exist yet): a file there is refused with its name.
import { statSync } from "node:fs";
import { ConfigError } from "../errors.js";
import { parseLocation } from "./open_store.js";

/** Throws ConfigError when `uri` is a local path that exists and is not a folder (S3 prefixes always pass). */
export function requireFolderLocation(uri: string, flag: string): void {
  const location = parseLocation(uri);
  if (location.kind !== "file") return;
  const st = statSync(location.path, { throwIfNoEntry: false });
  if (st === undefined || st.isDirectory()) return;
  throw new ConfigError(
    `${flag} ${location.path} is ${st.isFile() ? "a file" : "not a folder"}, but ${flag} names a folder`,
    `give a folder (it is created when missing), e.g. ${location.path}-out`,
  );
}
