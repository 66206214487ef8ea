// ObjectStore over a local folder: each write goes to a temp file beside the target, then rename()s into place.
import { createReadStream } from "node:fs";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { pipeline } from "node:stream/promises";
import { createWriteStream } from "node:fs";
import type { Readable } from "node:stream";
import { NotFoundError } from "../errors.js";
import {
  type Body,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  checkKey,
  checkPrefix,
} from "./object_store.js";

const TEMP_MARK = ".tmp-";
/** Exactly the names writeTemp makes (".<name>.tmp-<pid>-<12 hex>"), so a real "photo.tmp-1.jpg" still lists. */
const TEMP_FILE = /^\..+\.tmp-\d+-[0-9a-f]{12}$/;

export class LocalObjectStore implements ObjectStore {
  readonly baseUri: string;
  private readonly root: string;

  constructor(folder: string) {
    this.root = path.resolve(folder);
    this.baseUri = this.root;
  }

  uriOf(key: string): string {
    return path.join(this.root, checkKey(key));
  }

  async get(key: string): Promise<Uint8Array> {
    try {
      return await fs.readFile(this.uriOf(key)); // a Buffer is a Uint8Array: no copy needed
    } catch (err) {
      throw this.translate(err, key);
    }
  }

  async getStream(key: string): Promise<Readable> {
    const file = this.uriOf(key);
    try {
      const handle = await fs.open(file, "r");
      // Hand over the FileHandle itself: with only its number, the handle can be garbage-collected and
      // close the descriptor under the stream (EBADF mid-read).
      return createReadStream("", { fd: handle, autoClose: true });
    } catch (err) {
      throw this.translate(err, key);
    }
  }

  async put(key: string, body: Body, _options?: PutOptions): Promise<{ etag: string }> {
    const file = this.uriOf(key);
    const temp = await this.writeTemp(file, body);
    try {
      await fs.rename(temp, file);
    } catch (err) {
      await fs.rm(temp, { force: true });
      throw err;
    }
    return { etag: etagOf(await fs.stat(file, { bigint: true })) };
  }

  async putIfAbsent(key: string, body: Body, _options?: PutOptions): Promise<boolean> {
    const file = this.uriOf(key);
    const temp = await this.writeTemp(file, body);
    try {
      // link() fails with EEXIST when the target exists: an atomic create-if-absent with full contents.
      await fs.link(temp, file);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw err;
    } finally {
      await fs.rm(temp, { force: true });
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const st = await fs.stat(this.uriOf(key), { bigint: true });
      if (!st.isFile()) return undefined;
      return { key, sizeBytes: Number(st.size), etag: etagOf(st), lastModified: new Date(Number(st.mtimeMs)) };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    checkPrefix(prefix);
    // Walk only the deepest folder the prefix names, then filter by the full prefix.
    const slash = prefix.lastIndexOf("/");
    const dirKey = slash >= 0 ? prefix.slice(0, slash) : "";
    const keys: string[] = [];
    await this.walk(dirKey, keys);
    keys.sort();
    for (const key of keys) {
      if (!key.startsWith(prefix)) continue;
      const info = await this.head(key);
      if (info) yield info;
    }
  }

  async delete(key: string): Promise<void> {
    const file = this.uriOf(key);
    await fs.rm(file, { force: true });
    // Prune folders left empty, up to (not including) the root, so listings stay tidy.
    let dir = path.dirname(file);
    while (dir.startsWith(this.root + path.sep)) {
      try {
        await fs.rmdir(dir);
      } catch {
        break;
      }
      dir = path.dirname(dir);
    }
  }

  async publish(key: string, document: unknown): Promise<void> {
    await this.put(key, JSON.stringify(document, null, 2) + "\n", { contentType: "application/json" });
  }

  /** Collects file keys under dirKey; symbolic links are followed (a folder of links to images is common), cycles are not. */
  private async walk(dirKey: string, out: string[], seen = new Set<string>()): Promise<void> {
    const dir = dirKey ? path.join(this.root, dirKey) : this.root;
    const real = await fs.realpath(dir).catch(() => dir);
    if (seen.has(real)) return;
    seen.add(real);
    let entries: import("node:fs").Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isMissing(err) || (err as NodeJS.ErrnoException).code === "ENOTDIR") return;
      throw err;
    }
    for (const entry of entries) {
      const key = dirKey ? `${dirKey}/${entry.name}` : entry.name;
      let isDirectory = entry.isDirectory();
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        const target = await fs.stat(path.join(dir, entry.name)).catch(() => undefined); // a dangling link lists nothing
        isDirectory = target?.isDirectory() ?? false;
        isFile = target?.isFile() ?? false;
      }
      if (isDirectory) await this.walk(key, out, seen);
      else if (isFile && !TEMP_FILE.test(entry.name)) out.push(key);
    }
  }

  private async writeTemp(file: string, body: Body): Promise<string> {
    await fs.mkdir(path.dirname(file), { recursive: true });
    const temp = path.join(
      path.dirname(file),
      `.${path.basename(file)}${TEMP_MARK}${process.pid}-${randomBytes(6).toString("hex")}`,
    );
    try {
      if (typeof body === "string" || body instanceof Uint8Array) {
        const handle = await fs.open(temp, "w");
        try {
          await handle.writeFile(body);
          await handle.sync();
        } finally {
          await handle.close();
        }
      } else {
        await pipeline(body as Readable, createWriteStream(temp));
      }
    } catch (err) {
      await fs.rm(temp, { force: true });
      throw err;
    }
    return temp;
  }

  private translate(err: unknown, key: string): unknown {
    if (isMissing(err) || (err as NodeJS.ErrnoException).code === "EISDIR") {
      return new NotFoundError(this.uriOf(key), "check the path, or that the step that writes it has run");
    }
    return err;
  }
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === "ENOENT";
}

function etagOf(st: import("node:fs").BigIntStats): string {
  return `${st.mtimeNs.toString(16)}-${st.size.toString(16)}-${st.ino.toString(16)}`;
}
