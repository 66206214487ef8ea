// Opens an ObjectStore from a location string: s3://bucket/prefix, file:///absolute/path, or a plain local path.
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { S3Client } from "@aws-sdk/client-s3";
import { ConfigError } from "../errors.js";
import { LocalObjectStore } from "./local_store.js";
import { type ObjectStore, checkKey } from "./object_store.js";
import { S3ObjectStore, createS3Client, s3SettingsFromEnv } from "./s3_store.js";

/** Where a URI points: an S3 bucket and key prefix ("" for the bucket root), or an absolute local path. */
export type StoreLocation = { kind: "s3"; bucket: string; prefix: string } | { kind: "file"; path: string };

const ACCEPTED_FORMS = "s3://bucket/prefix, file:///absolute/path, or a local path such as ./runs or /data/runs";
// Loose on purpose (S3 itself wants 3-63 of a-z 0-9 . -, old us-east-1 buckets have more): it only
// has to catch what cannot be a bucket at all, like spaces or a stray ":" from a mistyped URI.
const BUCKET_NAME = /^[a-zA-Z0-9._-]{1,255}$/;

/** Parses a location; relative local paths are resolved against the working directory. */
export function parseLocation(uri: string): StoreLocation {
  if (typeof uri !== "string" || uri.trim() === "") {
    throw new ConfigError(`empty storage location ${JSON.stringify(uri)}`, `give ${ACCEPTED_FORMS}`);
  }
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(uri)?.[1]?.toLowerCase();
  if (scheme === "s3") return parseS3(uri);
  if (scheme === "file") return { kind: "file", path: parseFileUrl(uri) };
  if (scheme !== undefined) {
    throw new ConfigError(
      `unsupported storage location ${uri}: scheme "${scheme}://" is not supported`,
      `give ${ACCEPTED_FORMS}`,
    );
  }
  return { kind: "file", path: path.resolve(uri) };
}

/** Opens the store rooted at `uri` (a bucket prefix or a folder). S3 stores share one client per endpoint/region. */
export function openStore(uri: string): ObjectStore {
  const location = parseLocation(uri);
  if (location.kind === "file") return new LocalObjectStore(location.path);
  return new S3ObjectStore({ bucket: location.bucket, prefix: location.prefix, client: sharedS3Client() });
}

/**
 * Opens the store holding the one object `uri` names, and that object's key in it:
 * `s3://b/ds/fmnist/manifest.json` → store at `s3://b/ds/fmnist`, key "manifest.json".
 */
export function openParent(uri: string): { store: ObjectStore; key: string } {
  const location = parseLocation(uri);
  if (location.kind === "s3") {
    const slash = location.prefix.lastIndexOf("/");
    const key = location.prefix.slice(slash + 1);
    if (key === "" || uri.endsWith("/")) {
      throw new ConfigError(
        `${uri} names a bucket or a folder, not an object`,
        "give the URI of one object, e.g. s3://bucket/datasets/fmnist/manifest.json",
      );
    }
    const parent = slash >= 0 ? location.prefix.slice(0, slash) : "";
    return { store: new S3ObjectStore({ bucket: location.bucket, prefix: parent, client: sharedS3Client() }), key };
  }
  if (/[/\\]$/.test(uri)) {
    throw new ConfigError(
      `${uri} names a folder, not a file`,
      "give the path of one file, e.g. ./datasets/fmnist/manifest.json",
    );
  }
  return { store: new LocalObjectStore(path.dirname(location.path)), key: path.basename(location.path) };
}

/** Appends a key ("a/b.json") to a location, keeping its form: s3:// stays s3://, file:// stays file://, a path stays a path. */
export function joinUri(base: string, key: string): string {
  checkKey(key);
  const location = parseLocation(base);
  if (location.kind === "s3") {
    return `s3://${location.bucket}/${location.prefix ? `${location.prefix}/` : ""}${key}`;
  }
  if (/^file:\/\//i.test(base)) return pathToFileURL(path.join(location.path, ...key.split("/"))).href;
  return path.join(base, ...key.split("/"));
}

function parseS3(uri: string): StoreLocation {
  const rest = uri.slice("s3://".length);
  const slash = rest.indexOf("/");
  const bucket = slash >= 0 ? rest.slice(0, slash) : rest;
  if (bucket === "") {
    throw new ConfigError(
      `S3 location ${uri} has no bucket`,
      "write it as s3://bucket/prefix, e.g. s3://my-runs/runs/run-1",
    );
  }
  if (!BUCKET_NAME.test(bucket)) {
    throw new ConfigError(
      `S3 location ${uri}: ${JSON.stringify(bucket)} is not a valid bucket name`,
      "bucket names use a-z, 0-9, '.' and '-' only, e.g. s3://my-runs/exp-1",
    );
  }
  const prefix = slash >= 0 ? rest.slice(slash + 1).replace(/\/+$/, "") : "";
  if (prefix !== "" && prefix.split("/").some((s) => s === "" || s === "." || s === "..")) {
    throw new ConfigError(
      `S3 location ${uri} has an empty, "." or ".." path segment`,
      "write the prefix as a/b/c, without // or dot segments",
    );
  }
  return { kind: "s3", bucket, prefix };
}

function parseFileUrl(uri: string): string {
  try {
    return fileURLToPath(uri);
  } catch (err) {
    throw new ConfigError(
      `invalid file URL ${uri}: ${(err as Error).message}`,
      `file URLs are absolute, with three slashes: file:///data/runs; or give ${ACCEPTED_FORMS}`,
    );
  }
}

const sharedClients = new Map<string, S3Client>();

/** One client (and connection pool) per distinct endpoint / path style / region in the environment. */
function sharedS3Client(): S3Client {
  const settings = s3SettingsFromEnv();
  const id = JSON.stringify(settings);
  let client = sharedClients.get(id);
  if (!client) {
    client = createS3Client(settings);
    sharedClients.set(id, client);
  }
  return client;
}
