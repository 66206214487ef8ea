// Block height and width from one uniform draw, as the official I-JEPA MaskCollator computes them, and their exact range over all draws.

/** A closed range [low, high] read from the config (scale or aspect ratio). */
export type ValueRange = readonly [number, number];

/** Height and width of a mask block, in patches. */
export interface BlockSize {
  height: number;
  width: number;
}

/** The largest value Rng.float() returns: draws lie in [0, MAX_DRAW]. */
export const MAX_DRAW = 1 - 2 ** -53;

/**
 * Python 3's `round()` on a double: nearest integer, exact halves to the even neighbour
 * (round(0.5) == 0, round(1.5) == 2, round(2.5) == 2). `Math.round` would send every half up.
 */
export function roundHalfToEven(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor; // exact for |x| < 2^52
  if (fraction < 0.5) return floor;
  if (fraction > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * `MaskCollator._sample_block_size` for one draw in [0, 1). The official code uses the SAME draw for the
 * scale and the aspect ratio, so large blocks are also the tallest ones; we keep that for parity.
 * Arithmetic is done in the same order as the Python so doubles round identically:
 *   max_keep = int(H*W*scale); h = round(sqrt(max_keep*ar)); w = round(sqrt(max_keep/ar)),
 * then h and w shrink to at most H-1 and W-1 (a block never spans the whole grid).
 * Rounding can make h*w exceed max_keep (max_keep 7, ar 1 → 3×3 = 9).
 */
export function blockSizeFromDraw(
  draw: number,
  scale: ValueRange,
  aspectRatio: ValueRange,
  gridHeight: number,
  gridWidth: number,
): BlockSize {
  const maskScale = scale[0] + draw * (scale[1] - scale[0]);
  const maxKeep = Math.trunc(gridHeight * gridWidth * maskScale);
  const ratio = aspectRatio[0] + draw * (aspectRatio[1] - aspectRatio[0]);
  const height = roundHalfToEven(Math.sqrt(maxKeep * ratio));
  const width = roundHalfToEven(Math.sqrt(maxKeep / ratio));
  return { height: Math.min(height, gridHeight - 1), width: Math.min(width, gridWidth - 1) };
}

/** One end of a block-area range, with a draw that produces it. */
export interface BlockAreaExtreme {
  area: number;
  size: BlockSize;
  draw: number;
}

/** Smallest and largest block (by patch count) over every draw in [0, 1). */
export interface BlockAreaRange {
  min: BlockAreaExtreme;
  max: BlockAreaExtreme;
}

/**
 * The exact smallest and largest block area that `blockSizeFromDraw` can return for any draw.
 *
 * The size is a step function of the draw: it changes only where int(H*W*scale) steps to the next
 * integer, or where sqrt(max_keep*ar) or sqrt(max_keep/ar) crosses k + 1/2. We list those breakpoints
 * and evaluate the function at each, at its neighbours, and between consecutive breakpoints, so every
 * piece of the step function is visited (up to pieces a few ulps wide, which no draw realistically hits).
 */
export function blockAreaRange(
  scale: ValueRange,
  aspectRatio: ValueRange,
  gridHeight: number,
  gridWidth: number,
): BlockAreaRange {
  const numPatches = gridHeight * gridWidth;
  const scaleSpan = scale[1] - scale[0];
  const ratioSpan = aspectRatio[1] - aspectRatio[0];
  const breakpoints: number[] = [0, MAX_DRAW];

  const maxKeepAt = (draw: number): number => Math.trunc(numPatches * (scale[0] + draw * scaleSpan));
  const lowestMaxKeep = maxKeepAt(0);
  const highestMaxKeep = maxKeepAt(MAX_DRAW);
  for (let maxKeep = lowestMaxKeep; maxKeep <= highestMaxKeep; maxKeep++) {
    // Draws over which int(H*W*scale) == maxKeep.
    let drawLow = 0;
    let drawHigh = 1;
    if (scaleSpan > 0) {
      drawLow = Math.max(0, (maxKeep / numPatches - scale[0]) / scaleSpan);
      drawHigh = Math.min(1, ((maxKeep + 1) / numPatches - scale[0]) / scaleSpan);
      if (maxKeep > lowestMaxKeep) breakpoints.push(drawLow);
    }
    if (ratioSpan <= 0 || maxKeep === 0) continue;
    const ratioLow = aspectRatio[0] + drawLow * ratioSpan;
    const ratioHigh = aspectRatio[0] + drawHigh * ratioSpan;
    const drawOfRatio = (ratio: number): number => (ratio - aspectRatio[0]) / ratioSpan;
    // Height steps where maxKeep*ar == (k+1/2)^2; width steps where maxKeep/ar == (k+1/2)^2.
    for (
      let k = Math.floor(Math.sqrt(maxKeep * ratioLow) - 0.5);
      k <= Math.ceil(Math.sqrt(maxKeep * ratioHigh) - 0.5);
      k++
    ) {
      breakpoints.push(drawOfRatio((k + 0.5) ** 2 / maxKeep));
    }
    for (
      let k = Math.floor(Math.sqrt(maxKeep / ratioHigh) - 0.5);
      k <= Math.ceil(Math.sqrt(maxKeep / ratioLow) - 0.5);
      k++
    ) {
      if (k + 0.5 > 0) breakpoints.push(drawOfRatio(maxKeep / (k + 0.5) ** 2));
    }
  }

  const inRange = breakpoints.filter((d) => d >= 0 && d <= MAX_DRAW).sort((a, b) => a - b);
  const probes: number[] = [];
  for (let i = 0; i < inRange.length; i++) {
    const d = inRange[i];
    probes.push(d, d * (1 - Number.EPSILON), d * (1 + Number.EPSILON) + Number.MIN_VALUE);
    if (i + 1 < inRange.length) probes.push((d + inRange[i + 1]) / 2);
  }

  let min: BlockAreaExtreme | undefined;
  let max: BlockAreaExtreme | undefined;
  for (const draw of probes) {
    if (!(draw >= 0 && draw <= MAX_DRAW)) continue;
    const size = blockSizeFromDraw(draw, scale, aspectRatio, gridHeight, gridWidth);
    const area = size.height * size.width;
    if (!min || area < min.area) min = { area, size, draw };
    if (!max || area > max.area) max = { area, size, draw };
  }
  // probes always holds 0, so both are set.
  return { min: min!, max: max! };
}
