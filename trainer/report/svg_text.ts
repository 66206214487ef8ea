// Text in hand-drawn SVG (the mask figure's captions): the font stack, escaping, and label widths without font metrics.

/** Fonts fontconfig finds on the machines we render on (DejaVu in the container, Liberation or Arial elsewhere). */
export const FONT_FAMILY = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif";

/** Escapes text for SVG/HTML content and attribute values. */
export function escapeXml(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

/** Advance widths of DejaVu Sans in em, for the characters whose width is far from the 0.62 em default. */
const CHAR_EM: Record<string, number> = {
  " ": 0.32,
  i: 0.28,
  j: 0.28,
  l: 0.28,
  f: 0.35,
  t: 0.39,
  r: 0.41,
  s: 0.52,
  c: 0.55,
  z: 0.52,
  k: 0.58,
  v: 0.59,
  x: 0.59,
  y: 0.59,
  m: 0.97,
  w: 0.82,
  ",": 0.32,
  ".": 0.32,
  ":": 0.34,
  ";": 0.34,
  "'": 0.28,
  "(": 0.39,
  ")": 0.39,
  "-": 0.36,
  "%": 0.95,
  I: 0.29,
  J: 0.29,
  M: 0.86,
  W: 0.99,
  "×": 0.84,
  "…": 1.0,
};

/** Approximate rendered width of a label in DejaVu Sans (what fontconfig picks here); no font metrics needed. */
export function textWidth(label: string, size: number): number {
  let em = 0;
  for (const c of label) em += CHAR_EM[c] ?? (c >= "A" && c <= "Z" ? 0.7 : 0.62);
  return em * size;
}
