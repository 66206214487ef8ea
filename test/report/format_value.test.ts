import { describe, expect, it } from "vitest";
import { extent, formatValue } from "../../trainer/report/format_value.js";

describe("formatValue", () => {
  it("formats table values briefly", () => {
    expect(formatValue(0.123456)).toBe("0.1235");
    expect(formatValue(2e-5)).toBe("2e-5");
    expect(formatValue(1234.6)).toBe("1235");
    expect(formatValue(0.805, "percent")).toBe("80.5%");
    expect(formatValue(0.0512, "percent")).toBe("5.12%");
    expect(formatValue(NaN)).toBe("NaN");
  });
});

describe("extent", () => {
  it("finds min and max of more values than a call may take as arguments", () => {
    const values = Array.from({ length: 300_000 }, (_, i) => Math.sin(i));
    const [lo, hi] = extent(values);
    expect(lo).toBeCloseTo(-1, 6);
    expect(hi).toBeCloseTo(1, 6);
  });
});
