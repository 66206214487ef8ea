import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatValue, linearTicks, logTicks, niceStep } from "../../trainer/report/axis_ticks.js";

/** True when step is 1, 2 or 5 times a power of ten. */
function isNice(step: number): boolean {
  const mantissa = Number((step / 10 ** Math.floor(Math.log10(step) + 1e-9)).toPrecision(6));
  return [1, 2, 5].includes(mantissa);
}

describe("linearTicks", () => {
  it("puts ticks on nice round numbers that cover the data", () => {
    const { min, max, ticks } = linearTicks(0.101, 0.499);
    expect(ticks.map((t) => t.label)).toEqual(["0.1", "0.2", "0.3", "0.4", "0.5"]);
    expect(min).toBe(0.1);
    expect(max).toBe(0.5);
  });

  it("labels a step axis 0, 500, …, 2000", () => {
    expect(linearTicks(0, 2000).ticks.map((t) => t.label)).toEqual(["0", "500", "1000", "1500", "2000"]);
  });

  it("writes learning-rate ticks as short exponents", () => {
    expect(linearTicks(0, 1e-3).ticks.map((t) => t.label)).toEqual(["0", "2e-4", "4e-4", "6e-4", "8e-4", "1e-3"]);
  });

  it("keeps the digits a momentum axis near 1 needs", () => {
    expect(linearTicks(0.996, 1).ticks.map((t) => t.label)).toEqual(["0.996", "0.997", "0.998", "0.999", "1.000"]);
  });

  it("writes percentages with a % sign", () => {
    const labels = linearTicks(0.6, 0.9, { format: "percent" }).ticks.map((t) => t.label);
    expect(labels[0]).toBe("60%");
    expect(labels[labels.length - 1]).toBe("90%");
  });

  it("only puts whole numbers on an integer axis, even for a short range", () => {
    const { ticks } = linearTicks(0, 2, { integer: true });
    expect(ticks.map((t) => t.value)).toEqual([0, 1, 2]);
  });

  it("opens a window around a flat series instead of dividing by zero", () => {
    const { min, max, ticks } = linearTicks(0.5, 0.5);
    expect(min).toBeLessThan(0.5);
    expect(max).toBeGreaterThan(0.5);
    expect(ticks.length).toBeGreaterThanOrEqual(3);
  });

  it("keeps plain decimals for a flat weight decay of 0.04 (exponents are for tiny values only)", () => {
    const labels = linearTicks(0.04, 0.04).ticks.map((t) => t.label);
    expect(labels).toContain("0.040");
    expect(labels.every((l) => !l.includes("e"))).toBe(true);
  });

  it("covers any finite range with 3 to 13 evenly spaced nice ticks", () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        fc.double({ min: 1e-6, max: 1e6, noNaN: true }),
        (lo, span) => {
          const hi = lo + span;
          // Ranges narrower than a millionth of their magnitude are below what doubles resolve after rounding.
          fc.pre(span >= Math.abs(lo) * 1e-6);
          const { min, max, ticks } = linearTicks(lo, hi);
          const step = ticks[1].value - ticks[0].value;
          // Within float rounding (a millionth of a step): -5e-324 may sit on the 0 tick.
          expect(min).toBeLessThanOrEqual(lo + step * 1e-6);
          expect(max).toBeGreaterThanOrEqual(hi - step * 1e-6);
          expect(ticks.length).toBeGreaterThanOrEqual(3);
          expect(ticks.length).toBeLessThanOrEqual(13);
          expect(isNice(Number(step.toPrecision(6)))).toBe(true);
          expect(new Set(ticks.map((t) => t.label)).size).toBe(ticks.length);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("logTicks", () => {
  it("labels each decade of a loss that falls from 3 to 0.002", () => {
    const { min, max, ticks } = logTicks(0.002, 3);
    expect(min).toBeLessThanOrEqual(0.002);
    expect(max).toBeGreaterThanOrEqual(3);
    const labelled = ticks.filter((t) => t.label).map((t) => t.label);
    expect(labelled).toEqual(expect.arrayContaining(["0.01", "0.1", "1"]));
    // Minor ticks (2×..9×) are drawn as gridlines but left unlabelled when there are several decades.
    expect(ticks.some((t) => !t.major && t.label === "")).toBe(true);
  });

  it("labels 2× and 5× too when the range is narrower than two decades", () => {
    const labelled = logTicks(0.11, 0.93)
      .ticks.filter((t) => t.label)
      .map((t) => t.label);
    expect(labelled).toEqual(["0.1", "0.2", "0.5", "1"]);
  });

  it("thins decade labels on a very wide range", () => {
    const labelled = logTicks(1e-9, 1e3).ticks.filter((t) => t.label);
    expect(labelled.length).toBeLessThanOrEqual(7);
    expect(labelled[0].label).toBe("1e-9");
  });

  it("refuses a range that touches zero", () => {
    expect(() => logTicks(0, 1)).toThrow(/positive/);
  });
});

describe("niceStep and formatValue", () => {
  it("rounds a raw step up to 1, 2 or 5 × 10^k", () => {
    expect(niceStep(0.13)).toBe(0.1);
    expect(niceStep(0.27)).toBe(0.2);
    expect(niceStep(380)).toBe(500);
    expect(niceStep(8)).toBe(10);
  });

  it("formats table values briefly", () => {
    expect(formatValue(0.123456)).toBe("0.1235");
    expect(formatValue(2e-5)).toBe("2e-5");
    expect(formatValue(0.805, "percent")).toBe("80.5%");
    expect(formatValue(NaN)).toBe("NaN");
  });
});
