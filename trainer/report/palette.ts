// Colours for charts and mask figures: the Okabe–Ito palette, told apart by people with any common colour-vision deficiency.

/** Okabe & Ito (2008), "Color Universal Design". */
export const OKABE_ITO = {
  orange: "#E69F00",
  skyBlue: "#56B4E9",
  bluishGreen: "#009E73",
  yellow: "#F0E442",
  blue: "#0072B2",
  vermillion: "#D55E00",
  reddishPurple: "#CC79A7",
  black: "#000000",
} as const;

/** Target-block tints in draw order: four hues that stay distinct from each other and from grey image content. */
export const TARGET_BLOCK_COLORS: ReadonlyArray<readonly [number, number, number]> = [
  [0xe6, 0x9f, 0x00], // orange
  [0x56, 0xb4, 0xe9], // sky blue
  [0x00, 0x9e, 0x73], // bluish green
  [0xcc, 0x79, 0xa7], // reddish purple
];
