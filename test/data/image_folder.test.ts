// Image folders: labels from class folders, own or stratified split, and decoding to R×R by shorter-side resize + centre crop.
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { decodeSquareImage } from "../../trainer/data/image_decode.js";
import { layOutImageFolder } from "../../trainer/data/image_folder_layout.js";
import { makeImage } from "./fixtures.js";

const opts = { testFraction: 0.2, seed: 1 };

function keysOf(classes: Record<string, number>, prefix = ""): string[] {
  return Object.entries(classes).flatMap(([cls, n]) =>
    Array.from({ length: n }, (_, i) => `${prefix}${cls}/img${i}.jpg`),
  );
}

describe("image folder layout", () => {
  it("numbers classes in sorted folder-name order and labels images by their top folder", () => {
    const layout = layOutImageFolder(["zebra/a.png", "ant/b.jpg", "ant/deeper/c.webp", "Moth/d.JPEG"], {
      testFraction: 0,
      seed: 0,
    });
    expect(layout.classNames).toEqual(["Moth", "ant", "zebra"]);
    const labelOf = new Map(layout.examples.train.map((e) => [e.key, e.label]));
    expect(Object.fromEntries(labelOf)).toEqual({
      "Moth/d.JPEG": 0,
      "ant/b.jpg": 1,
      "ant/deeper/c.webp": 1,
      "zebra/a.png": 2,
    });
  });

  it("labels images directly in the root -1, and has no class names when there are no class folders", () => {
    const layout = layOutImageFolder(["a.jpg", "b.png"], { testFraction: 0, seed: 0 });
    expect(layout.classNames).toBeNull();
    expect(layout.examples.train.map((e) => e.label)).toEqual([-1, -1]);
  });

  it("uses the folder's own train/ and test/ split, and rejects files outside them", () => {
    const keys = [...keysOf({ cat: 3, dog: 2 }, "train/"), ...keysOf({ cat: 1, dog: 1 }, "test/"), "extra/cat/x.jpg"];
    const layout = layOutImageFolder(keys, opts);
    expect(layout.ownSplit).toBe(true);
    expect(layout.classNames).toEqual(["cat", "dog"]);
    expect(layout.examples.train).toHaveLength(5);
    expect(layout.examples.test.map((e) => [e.key, e.label])).toEqual([
      ["test/cat/img0.jpg", 0],
      ["test/dog/img0.jpg", 1],
    ]);
    expect(layout.rejected).toEqual([
      { source: "extra/cat/x.jpg", reason: "outside the split folders train/ and test/" },
    ]);
  });

  it("treats a lone train/ folder as the root, taking classes from below it", () => {
    const layout = layOutImageFolder(keysOf({ cat: 5, dog: 5 }, "train/"), opts);
    expect(layout.ownSplit).toBe(false);
    expect(layout.classNames).toEqual(["cat", "dog"]);
    expect(layout.examples.test).toHaveLength(2);
  });

  it("accepts val/ as the test folder", () => {
    const layout = layOutImageFolder([...keysOf({ a: 2 }, "train/"), ...keysOf({ a: 1 }, "val/")], opts);
    expect(layout.examples.test.map((e) => e.key)).toEqual(["val/a/img0.jpg"]);
  });

  it("holds out round(n × testFraction) of every class, the same files for the same seed and others for another", () => {
    const keys = keysOf({ a: 10, b: 20, c: 5 });
    const first = layOutImageFolder(keys, opts);
    const again = layOutImageFolder([...keys].reverse(), opts);
    const other = layOutImageFolder(keys, { ...opts, seed: 2 });
    const perClass = (l: typeof first) => [0, 1, 2].map((c) => l.examples.test.filter((e) => e.label === c).length);
    expect(perClass(first)).toEqual([2, 4, 1]);
    expect(first.examples.test.map((e) => e.key)).toEqual(again.examples.test.map((e) => e.key));
    expect(first.examples.train.map((e) => e.key)).toEqual(again.examples.train.map((e) => e.key));
    expect(other.examples.test.map((e) => e.key)).not.toEqual(first.examples.test.map((e) => e.key));
    const all = [...first.examples.train, ...first.examples.test].map((e) => e.key).sort();
    expect(all).toEqual([...keys].sort());
  });

  it("shuffles the train write order so shards mix classes", () => {
    const layout = layOutImageFolder(keysOf({ a: 50, b: 50 }), { testFraction: 0, seed: 3 });
    const firstTwenty = layout.examples.train.slice(0, 20).map((e) => e.label);
    expect(new Set(firstTwenty).size).toBe(2);
  });

  it("rejects files that are not images by name, saying which extension it saw", () => {
    const layout = layOutImageFolder(["cat/a.jpg", "cat/notes.txt", "README"], opts);
    expect(layout.rejected.map((r) => r.source)).toEqual(["cat/notes.txt", "README"]);
    expect(layout.rejected[0].reason).toMatch(/extension \.txt/);
    expect(layout.rejected[1].reason).toMatch(/extension \(none\)/);
  });
});

describe("image decoding", () => {
  it("scales the shorter side to R and keeps the centre: a red|green|blue wide image becomes all green", async () => {
    const width = 40;
    const height = 20;
    const raw = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) raw[(y * width + x) * 3 + (x < 10 ? 0 : x < 30 ? 1 : 2)] = 255;
    }
    const png = await sharp(raw, { raw: { width, height, channels: 3 } })
      .png()
      .toBuffer();
    const result = await decodeSquareImage(png, { resolution: 8, channels: 3 });
    if (!("pixels" in result)) throw new Error(result.reason);
    expect(result.pixels).toHaveLength(8 * 8 * 3);
    for (const px of [0, 7, 27, 63]) {
      const [r, g, b] = result.pixels.subarray(px * 3, px * 3 + 3);
      expect([r < 40, g > 215, b < 40]).toEqual([true, true, true]);
    }
  });

  it("decodes JPEG, PNG and WebP, in colour or grey", async () => {
    for (const format of ["jpeg", "png", "webp"] as const) {
      const bytes = await makeImage(format, 30, 24, 4);
      const colour = await decodeSquareImage(bytes, { resolution: 16, channels: 3 });
      const grey = await decodeSquareImage(bytes, { resolution: 16, channels: 1 });
      expect("pixels" in colour && colour.pixels.length).toBe(16 * 16 * 3);
      expect("pixels" in grey && grey.pixels.length).toBe(16 * 16);
    }
  });

  it("gives a reason instead of throwing for empty, truncated, non-image and unsupported files", async () => {
    const jpeg = await makeImage("jpeg", 32, 32, 1);
    const gif = await sharp({ create: { width: 4, height: 4, channels: 3, background: "#808080" } })
      .gif()
      .toBuffer();
    const cases: Array<[Uint8Array, RegExp]> = [
      [new Uint8Array(0), /empty file/],
      [jpeg.subarray(0, jpeg.length >> 1), /cannot decode: .*premature end/i],
      [Buffer.from("just some text, not pixels"), /cannot decode: .*unsupported image format/],
      [gif, /unsupported image format gif/],
    ];
    for (const [bytes, reason] of cases) {
      const result = await decodeSquareImage(bytes, { resolution: 8, channels: 3 });
      expect("reason" in result && result.reason).toMatch(reason);
    }
  });
});
