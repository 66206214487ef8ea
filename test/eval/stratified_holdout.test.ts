import { describe, expect, it } from "vitest";
import { DataError } from "../../trainer/errors.js";
import { selectRows, stratifiedHoldout } from "../../trainer/eval/stratified_holdout.js";

/** 3 classes with 50, 30 and 20 rows, interleaved. */
function labels(): Int32Array {
  const out: number[] = [];
  for (let i = 0; i < 50; i++) out.push(0);
  for (let i = 0; i < 30; i++) out.push(1);
  for (let i = 0; i < 20; i++) out.push(2);
  // A fixed interleaving, so class membership does not follow row order.
  return Int32Array.from(out.map((_, i) => out[(i * 37) % out.length]));
}

describe("stratifiedHoldout", () => {
  it("holds out a fifth of every class", () => {
    const y = labels();
    const split = stratifiedHoldout(y, 3, 0.2, 1);
    const heldPerClass = [0, 0, 0];
    for (const r of split.heldOutRows) heldPerClass[y[r]]++;
    expect(heldPerClass).toEqual([10, 6, 4]);
  });

  it("splits the rows into two disjoint ascending lists that cover them all", () => {
    const split = stratifiedHoldout(labels(), 3, 0.2, 1);
    const all = [...split.fitRows, ...split.heldOutRows].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect([...split.fitRows]).toEqual([...split.fitRows].sort((a, b) => a - b));
    expect([...split.heldOutRows]).toEqual([...split.heldOutRows].sort((a, b) => a - b));
  });

  it("is the same for the same seed and differs for another", () => {
    const a = stratifiedHoldout(labels(), 3, 0.2, 1);
    const b = stratifiedHoldout(labels(), 3, 0.2, 1);
    const c = stratifiedHoldout(labels(), 3, 0.2, 2);
    expect([...a.heldOutRows]).toEqual([...b.heldOutRows]);
    expect([...a.heldOutRows]).not.toEqual([...c.heldOutRows]);
  });

  it("leaves at least one row of every class to fit on", () => {
    const split = stratifiedHoldout(Int32Array.from([0, 0, 1, 1, 2]), 3, 0.9, 1);
    expect(split.fitRows.length).toBe(3);
    expect(split.heldOutRows.length).toBe(2);
  });

  it("refuses a split that would hold nothing out", () => {
    expect(() => stratifiedHoldout(Int32Array.from([0, 1]), 2, 0.2, 1)).toThrow(DataError);
  });

  it("copies the chosen rows and their labels in order", () => {
    const picked = selectRows(
      Float32Array.from([0, 1, 10, 11, 20, 21]),
      Int32Array.from([5, 6, 7]),
      2,
      Int32Array.from([2, 0]),
    );
    expect(Array.from(picked.features)).toEqual([20, 21, 0, 1]);
    expect(Array.from(picked.labels)).toEqual([7, 5]);
  });
});
