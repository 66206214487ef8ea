// Numbers as the report's table shows them: short, with exponents only for tiny or huge values.

export type ValueFormat = "number" | "percent";

/** "0.1235", "2e-5", "80.5%": four significant digits at most, so a table column stays readable. */
export function formatValue(value: number, format: ValueFormat = "number"): string {
  if (!Number.isFinite(value)) return String(value);
  if (format === "percent") return `${trimZeros((value * 100).toFixed(value * 100 >= 10 ? 1 : 2))}%`;
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return tidyExponent(value.toExponential(3));
  if (abs >= 1000) return String(Math.round(value));
  return String(Number(value.toPrecision(4)));
}

/** [min, max] of a non-empty list; loops, not Math.min(...values): a long run has more values than a call may take. */
export function extent(values: readonly number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** "2.000e-4" → "2e-4", "1.5e+3" → "1.5e3". */
function tidyExponent(text: string): string {
  const [mantissa, exponent] = text.split("e");
  return `${trimZeros(mantissa)}e${Number(exponent)}`;
}

function trimZeros(text: string): string {
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}
