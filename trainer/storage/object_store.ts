// The one storage interface the core uses: keys under a base URI, backed by S3 or a local folder.
import type { Readable } from "node:stream";
import { CorruptDataError, IjepaError } from "../errors.js";

/** A key with "..", a leading "/" or an empty segment would reach outside the store (a tampered manifest, a typo). */
export class InvalidKeyError extends IjepaError {
  constructor(key: string) {
    super(
      `invalid object key ${JSON.stringify(key)}: keys are relative paths inside the store, ` +
        'without "..", a leading "/" or empty segments',
      'use a relative path like "checkpoints/latest.json"; a manifest or pointer holding this key was edited ' +
        "or damaged: write it again",
    );
  }
}

/** What `head` and `list` say about one object. */
export interface ObjectInfo {
  /** Key relative to the store's base (never starts with "/"). */
  key: string;
  sizeBytes: number;
  /** Opaque version tag: S3's ETag, or mtime+size for the local store. Changes whenever the bytes are rewritten. */
  etag: string;
  lastModified: Date;
}

export type Body = Uint8Array | string | Readable;

export interface PutOptions {
  contentType?: string;
}

/**
 * A flat key space under one base URI (`s3://bucket/prefix` or a local folder).
 *
 * Every write is atomic for readers: an object is either absent, or present with all its bytes.
 * Keys use "/" as separator and are relative to the base; "..", leading "/" and empty segments
 * are rejected.
 */
export interface ObjectStore {
  /** The base URI this store was opened on, e.g. `s3://runs/run-1` or `file:///tmp/run`. */
  readonly baseUri: string;

  /** Full URI of a key, for messages and pointers. */
  uriOf(key: string): string;

  /** Reads a whole object. Throws NotFoundError naming the URI when it is missing. */
  get(key: string): Promise<Uint8Array>;

  /** Reads an object as a stream. Throws NotFoundError when it is missing. */
  getStream(key: string): Promise<Readable>;

  /** Writes (or replaces) an object atomically. Returns the new etag. */
  put(key: string, body: Body, options?: PutOptions): Promise<{ etag: string }>;

  /**
   * Writes an object only if no object exists at the key.
   * Returns true when this call created it, false when something was already there.
   */
  putIfAbsent(key: string, body: Body, options?: PutOptions): Promise<boolean>;

  /** Describes an object, or undefined when it does not exist. */
  head(key: string): Promise<ObjectInfo | undefined>;

  /** Lists every object whose key starts with `prefix`, in lexicographic key order, paging as needed. */
  list(prefix: string): AsyncIterable<ObjectInfo>;

  /** Deletes an object; deleting a missing object is not an error. */
  delete(key: string): Promise<void>;

  /**
   * Publishes a small JSON pointer (latest.json, manifest.json): replaces `key` atomically, so a
   * reader sees either the old or the new document, never a mix. Write the files it points to first.
   */
  publish(key: string, document: unknown): Promise<void>;
}

/** Reads and parses a JSON object; NotFoundError if missing, CorruptDataError if not JSON. */
export async function getJson<T = unknown>(store: ObjectStore, key: string): Promise<T> {
  const bytes = await store.get(key);
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch (err) {
    throw new CorruptDataError(store.uriOf(key), `not valid JSON (${(err as Error).message})`);
  }
}

/** Validates a key: relative, "/"-separated, no empty, "." or ".." segments. */
export function checkKey(key: string): string {
  if (key.length === 0 || key.startsWith("/") || key.split("/").some((s) => s === "" || s === "." || s === "..")) {
    throw new InvalidKeyError(key);
  }
  return key;
}

/** Validates a list prefix: "" (everything) or a key-like string, which may end with "/". */
export function checkPrefix(prefix: string): string {
  if (prefix === "") return prefix;
  checkKey(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
  return prefix;
}

/** Collects a whole stream or body into bytes. */
export async function bodyToBytes(body: Body): Promise<Uint8Array> {
  if (typeof body === "string") return new TextEncoder().encode(body);
  if (body instanceof Uint8Array) return body;
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}
