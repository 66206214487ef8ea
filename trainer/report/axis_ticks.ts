// Axis ticks a person can read: "nice" linear steps (1, 2, 5 × 10^k) and decade-based log ticks, with their labels.

/** One tick on an axis: where it is, and its label ("" for an unlabelled minor tick). */
export interface AxisTick {
  value: number;
  label: string;
  major: boolean;
}

/** The range an axis shows (always covering the data) and the ticks drawn on it. */
export interface AxisTicks {
  min: number;
  max: number;
  ticks: AxisTick[];
}

export type TickFormat = "number" | "percent";

export interface LinearTickOptions {
  /** Roughly how many intervals to aim for; the result has between about half and twice this. */
  targetCount?: number;
  /** Only whole-number ticks (epochs, steps). */
  integer?: boolean;
  format?: TickFormat;
}

/**
 * Ticks at multiples of a nice step (1, 2 or 5 × 10^k) whose first tick is at or below `lo` and last
 * at or above `hi`, so the axis never cuts off data and every label is a short round number.
 */
export function linearTicks(lo: number, hi: number, options: LinearTickOptions = {}): AxisTicks {
  const targetCount = options.targetCount ?? 5;
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new RangeError(`axis range must be finite, got [${lo}, ${hi}]`);
  if (lo > hi) [lo, hi] = [hi, lo];
  if (lo === hi) {
    // A flat series still needs an axis: open a small window around the value.
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.05;
    lo -= pad;
    hi += pad;
    if (options.integer) {
      lo = Math.floor(lo);
      hi = Math.ceil(hi);
    }
  }
  let step = niceStep((hi - lo) / targetCount);
  if (options.integer) step = Math.max(1, Math.round(step));
  const decimals = decimalsOf(step);
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  const values: number[] = [];
  for (let k = first; k <= last; k++) values.push(roundTo(k * step, decimals));
  const largest = Math.max(...values.map(Math.abs));
  const ticks = values.map((value): AxisTick => ({ value, label: formatLinear(value, step, largest, options.format ?? "number"), major: true }));
  return { min: ticks[0].value, max: ticks[ticks.length - 1].value, ticks };
}

/**
 * Log-scale ticks for a positive range. The axis runs from the largest {1, 2, 5} × 10^k at or below
 * `lo` to the smallest at or above `hi`. Decades are labelled; when the range spans two decades or
 * fewer, 2× and 5× are labelled too so a narrow range still has several labels.
 */
export function logTicks(lo: number, hi: number, options: { format?: TickFormat } = {}): AxisTicks {
  if (!(lo > 0) || !(hi > 0) || !Number.isFinite(lo) || !Number.isFinite(hi)) {
    throw new RangeError(`log axis needs a positive finite range, got [${lo}, ${hi}]`);
  }
  if (lo > hi) [lo, hi] = [hi, lo];
  let min = niceFloor125(lo);
  let max = niceCeil125(hi);
  if (min === max) {
    min = niceFloor125(min * 0.99);
    max = niceCeil125(max * 1.01);
  }
  const firstDecade = Math.floor(Math.log10(min) + 1e-9);
  const lastDecade = Math.ceil(Math.log10(max) - 1e-9);
  const decades = Math.log10(max) - Math.log10(min);
  const labelMinor = decades <= 2 + 1e-9;
  // Past six decades, 2×..9× gridlines would crowd the plot; decades alone carry the scale.
  const drawMinor = decades <= 6 + 1e-9;
  const decadeEvery = Math.max(1, Math.ceil((lastDecade - firstDecade) / 6));
  const format = options.format ?? "number";
  const ticks: AxisTick[] = [];
  for (let d = firstDecade; d <= lastDecade; d++) {
    for (let m = 1; m <= (drawMinor ? 9 : 1); m++) {
      const value = roundSignificant(m * 10 ** d);
      if (value < min * (1 - 1e-9) || value > max * (1 + 1e-9)) continue;
      const major = m === 1;
      const labelled = major ? (d - firstDecade) % decadeEvery === 0 : labelMinor && (m === 2 || m === 5);
      ticks.push({ value, label: labelled ? formatLog(value, format) : "", major });
    }
  }
  return { min, max, ticks };
}

/** The nice step (1, 2 or 5 × 10^k) closest above a raw step. */
export function niceStep(raw: number): number {
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / magnitude;
  const nice = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10;
  return roundSignificant(nice * magnitude);
}

/** A number shown alone (tables, captions): up to 4 significant digits, exponent form when tiny or huge. */
export function formatValue(value: number, format: TickFormat = "number"): string {
  if (!Number.isFinite(value)) return String(value);
  if (format === "percent") return `${trimZeros((value * 100).toFixed(value * 100 >= 10 ? 1 : 2))}%`;
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return tidyExponent(value.toExponential(3));
  if (abs >= 1000) return String(Math.round(value));
  return String(Number(value.toPrecision(4)));
}

function formatLinear(value: number, step: number, largest: number, format: TickFormat): string {
  if (format === "percent") {
    return `${(value * 100).toFixed(decimalsOf(roundSignificant(step * 100)))}%`;
  }
  if (value === 0) return "0";
  const abs = Math.abs(value);
  // Tiny values (learning rates) read better as 2e-4 than 0.0002; big ones (steps) as 20k than 20000.
  if (largest < 1e-2) {
    // Mantissa digits: as many as the step resolves at this value's magnitude (1.2e-3 for a 2e-4 step).
    const digits = Math.floor(Math.log10(abs) + 1e-9) - Math.floor(Math.log10(step) + 1e-9);
    return tidyExponent(value.toExponential(Math.max(0, Math.min(20, digits))));
  }
  if (abs >= 1e4 && step >= 1000) return `${roundTo(value / 1000, decimalsOf(step / 1000))}k`;
  return value.toFixed(decimalsOf(step));
}

function formatLog(value: number, format: TickFormat): string {
  if (format === "percent") return `${trimZeros((value * 100).toPrecision(3))}%`;
  if (value >= 1e-3 && value < 1e5) return String(roundSignificant(value));
  return tidyExponent(value.toExponential(0));
}

/** "2.000e-4" → "2e-4", "1.5e+3" → "1.5e3". */
function tidyExponent(text: string): string {
  const [mantissa, exponent] = text.split("e");
  return `${trimZeros(mantissa)}e${Number(exponent)}`;
}

function trimZeros(text: string): string {
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}

/** Decimal places a step needs (0.25 → 2, 5 → 0, 2e-4 → 4). */
function decimalsOf(step: number): number {
  if (step === 0 || !Number.isFinite(step)) return 0;
  const text = roundSignificant(Math.abs(step)).toExponential();
  const [mantissa, exponent] = text.split("e");
  const mantissaDecimals = mantissa.includes(".") ? mantissa.split(".")[1].length : 0;
  return Math.max(0, mantissaDecimals - Number(exponent));
}

/** Rounds away the float noise of k * step (0.30000000000000004 → 0.3). */
function roundTo(value: number, decimals: number): number {
  return Number(value.toFixed(Math.min(20, decimals)));
}

function roundSignificant(value: number): number {
  return Number(value.toPrecision(12));
}

function niceFloor125(value: number): number {
  const decade = 10 ** Math.floor(Math.log10(value) + 1e-12);
  const m = value / decade;
  return roundSignificant((m >= 5 - 1e-9 ? 5 : m >= 2 - 1e-9 ? 2 : 1) * decade);
}

function niceCeil125(value: number): number {
  const decade = 10 ** Math.floor(Math.log10(value) + 1e-12);
  const m = value / decade;
  return roundSignificant((m <= 1 + 1e-9 ? 1 : m <= 2 + 1e-9 ? 2 : m <= 5 + 1e-9 ? 5 : 10) * decade);
}
