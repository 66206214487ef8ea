// CIFAR binary reading: CHW planes become HWC pixels, CIFAR-100 uses the fine label, partial records are refused.
import { describe, expect, it } from "vitest";
import { DataError } from "../../trainer/errors.js";
import {
  cifarRecordCount,
  cifarRecordFormat,
  decodeCifarRecords,
  findCifarLayout,
  parseCifarClassNames,
} from "../../trainer/data/cifar_reader.js";
import { cifarRecord } from "./fixtures.js";

describe("CIFAR reader", () => {
  it("recognises CIFAR-10 and CIFAR-100 folders, train batches in numeric order", () => {
    const ten = findCifarLayout([
      "cifar-10-batches-bin/data_batch_10.bin",
      "cifar-10-batches-bin/data_batch_2.bin",
      "cifar-10-batches-bin/data_batch_1.bin",
      "cifar-10-batches-bin/test_batch.bin",
      "cifar-10-batches-bin/batches.meta.txt",
    ]);
    expect(ten?.variant).toBe(10);
    expect(ten?.files.train).toEqual([
      "cifar-10-batches-bin/data_batch_1.bin",
      "cifar-10-batches-bin/data_batch_2.bin",
      "cifar-10-batches-bin/data_batch_10.bin",
    ]);
    expect(ten?.classNamesKey).toBe("cifar-10-batches-bin/batches.meta.txt");
    const hundred = findCifarLayout(["train.bin", "test.bin", "fine_label_names.txt", "coarse_label_names.txt"]);
    expect([hundred?.variant, hundred?.recordBytes, hundred?.labelOffset]).toEqual([100, 3074, 1]);
    expect(findCifarLayout(["data_batch_1.bin"])).toBeUndefined();
  });

  it("turns the red, green and blue planes into interleaved HWC pixels", () => {
    const bytes = Buffer.concat([cifarRecord([3], 0), cifarRecord([7], 50)]);
    const out = { images: new Uint8Array(2 * 3072), labels: new Int32Array(2), at: 0 };
    decodeCifarRecords(bytes, cifarRecordFormat(10), "f", 0, 2, out);
    expect(Array.from(out.labels)).toEqual([3, 7]);
    // Pixel p of record 1: R = 50 + p, G = 150 + p, B = 250 + p (mod 256).
    const p = 30 * 32 + 5; // row 30, column 5
    expect(Array.from(out.images.subarray(3072 + 3 * p, 3072 + 3 * p + 3))).toEqual([
      (50 + p) % 256,
      (150 + p) % 256,
      (250 + p) % 256,
    ]);
  });

  it("takes CIFAR-100's fine label (the second byte), not the coarse one", () => {
    const out = { images: new Uint8Array(3072), labels: new Int32Array(1), at: 0 };
    decodeCifarRecords(cifarRecord([4, 87], 1), cifarRecordFormat(100), "f", 0, 1, out);
    expect(out.labels[0]).toBe(87);
  });

  it("refuses a file that ends inside a record, naming it", () => {
    expect(cifarRecordCount(3073 * 3, cifarRecordFormat(10), "data_batch_1.bin")).toBe(3);
    expect(() => cifarRecordCount(3073 * 3 - 10, cifarRecordFormat(10), "s3://b/data_batch_1.bin")).toThrow(
      /s3:\/\/b\/data_batch_1\.bin: truncated record: .* 3073-byte CIFAR-10 records \(last record has 3063 bytes\)/,
    );
  });

  it("refuses a label outside the release's classes", () => {
    const out = { images: new Uint8Array(3072), labels: new Int32Array(1), at: 0 };
    expect(() => decodeCifarRecords(cifarRecord([12], 0), cifarRecordFormat(10), "f", 0, 1, out)).toThrow(DataError);
  });

  it("reads class names one per line and checks their number", () => {
    const names = parseCifarClassNames("a\nb\r\nc\nd\ne\nf\ng\nh\ni\nj\n\n", cifarRecordFormat(10), "meta");
    expect(names).toHaveLength(10);
    expect(names[1]).toBe("b");
    expect(() => parseCifarClassNames("a\nb\n", cifarRecordFormat(10), "meta")).toThrow(/lists 2 class names/);
  });
});
