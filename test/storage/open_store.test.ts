// Location strings → stores: s3://, file:// and plain paths, the parent of one object, joining keys, and errors for bad URIs.
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../trainer/errors.js";
import { LocalObjectStore } from "../../trainer/storage/local_store.js";
import { joinUri, openParent, openStore, parseLocation } from "../../trainer/storage/open_store.js";
import { S3ObjectStore } from "../../trainer/storage/s3_store.js";

function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("parseLocation", () => {
  it("splits s3:// URIs into bucket and prefix, without edge slashes", () => {
    expect(parseLocation("s3://runs/exp/run-1")).toEqual({ kind: "s3", bucket: "runs", prefix: "exp/run-1" });
    expect(parseLocation("s3://runs/exp/run-1/")).toEqual({ kind: "s3", bucket: "runs", prefix: "exp/run-1" });
    expect(parseLocation("s3://runs")).toEqual({ kind: "s3", bucket: "runs", prefix: "" });
    expect(parseLocation("S3://runs/x")).toEqual({ kind: "s3", bucket: "runs", prefix: "x" });
  });

  it("reads file:// URLs and plain paths as absolute local paths", () => {
    expect(parseLocation("file:///data/runs")).toEqual({ kind: "file", path: "/data/runs" });
    expect(parseLocation("file:///data/my%20runs")).toEqual({ kind: "file", path: "/data/my runs" });
    expect(parseLocation("/data/runs")).toEqual({ kind: "file", path: "/data/runs" });
    expect(parseLocation("runs/r1")).toEqual({ kind: "file", path: path.resolve("runs/r1") });
  });

  it("rejects an s3:// URI without a bucket, naming the URI and the accepted form", () => {
    for (const uri of ["s3://", "s3:///prefix"]) {
      const err = configErrorOf(() => parseLocation(uri));
      expect(err.message).toContain(uri);
      expect(err.hint).toContain("s3://bucket/prefix");
    }
  });

  it("rejects unsupported schemes, listing the forms it accepts", () => {
    const err = configErrorOf(() => parseLocation("http://example.com/runs"));
    expect(err.message).toContain("http://example.com/runs");
    expect(err.message).toContain('"http://"');
    expect(err.hint).toMatch(/s3:\/\/bucket\/prefix.*file:\/\/\/absolute\/path.*local path/);
  });

  it("rejects bad bucket names, dot segments, relative file URLs and empty strings", () => {
    expect(configErrorOf(() => parseLocation("s3://my bucket/x")).message).toContain("not a valid bucket name");
    expect(configErrorOf(() => parseLocation("s3://b/a//c")).message).toContain("s3://b/a//c");
    expect(configErrorOf(() => parseLocation("s3://b/a/../c")).message).toContain('".."');
    expect(configErrorOf(() => parseLocation("file://relative/path")).hint).toContain("file:///");
    expect(configErrorOf(() => parseLocation("")).hint).toContain("s3://bucket/prefix");
  });
});

describe("openStore", () => {
  it("opens an S3ObjectStore for s3:// and a LocalObjectStore otherwise", () => {
    const s3 = openStore("s3://runs/exp/run-1");
    expect(s3).toBeInstanceOf(S3ObjectStore);
    expect(s3.baseUri).toBe("s3://runs/exp/run-1");
    expect(s3.uriOf("checkpoints/latest.json")).toBe("s3://runs/exp/run-1/checkpoints/latest.json");
    const local = openStore("file:///tmp/ijepa-runs/r1");
    expect(local).toBeInstanceOf(LocalObjectStore);
    expect(local.uriOf("a.json")).toBe("/tmp/ijepa-runs/r1/a.json");
  });

  it("shares one S3 client between stores opened with the same settings", () => {
    const a = openStore("s3://runs/a") as S3ObjectStore;
    const b = openStore("s3://other/b") as S3ObjectStore;
    expect(a.client).toBe(b.client);
  });
});

describe("openParent", () => {
  it("opens the folder or prefix holding one object, and gives its key", () => {
    const s3 = openParent("s3://b/ds/fmnist/manifest.json");
    expect(s3.store.baseUri).toBe("s3://b/ds/fmnist");
    expect(s3.key).toBe("manifest.json");
    expect(s3.store.uriOf(s3.key)).toBe("s3://b/ds/fmnist/manifest.json");
    const atRoot = openParent("s3://b/manifest.json");
    expect(atRoot.store.baseUri).toBe("s3://b");
    expect(atRoot.key).toBe("manifest.json");
    const local = openParent("/data/ds/fmnist/manifest.json");
    expect(local.store.uriOf(local.key)).toBe("/data/ds/fmnist/manifest.json");
    const fromUrl = openParent("file:///data/ds/manifest.json");
    expect(fromUrl.store.uriOf(fromUrl.key)).toBe("/data/ds/manifest.json");
    const relative = openParent("ds/manifest.json");
    expect(relative.store.uriOf(relative.key)).toBe(path.resolve("ds/manifest.json"));
  });

  it("refuses URIs that name a bucket or a folder rather than an object", () => {
    for (const uri of ["s3://b", "s3://b/", "s3://b/ds/", "/data/ds/"]) {
      expect(configErrorOf(() => openParent(uri)).message).toContain(uri);
    }
  });
});

describe("joinUri", () => {
  it("appends a key and keeps the location's form", () => {
    expect(joinUri("s3://b/runs/r1", "checkpoints/latest.json")).toBe("s3://b/runs/r1/checkpoints/latest.json");
    expect(joinUri("s3://b/runs/r1/", "a.json")).toBe("s3://b/runs/r1/a.json");
    expect(joinUri("s3://b", "a.json")).toBe("s3://b/a.json");
    expect(joinUri("file:///data/runs", "my run/a.json")).toBe("file:///data/runs/my%20run/a.json");
    expect(joinUri("runs/r1", "probe/1.json")).toBe(path.join("runs", "r1", "probe", "1.json"));
    expect(joinUri("/data/runs/", "a.json")).toBe("/data/runs/a.json");
  });

  it("refuses keys that would climb out of the base", () => {
    expect(() => joinUri("s3://b/runs", "../other/a.json")).toThrow(/invalid object key/);
    expect(() => joinUri("/data/runs", "/etc/passwd")).toThrow(/invalid object key/);
  });
});
