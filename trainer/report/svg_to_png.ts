// Rasterises an SVG document to PNG bytes with sharp (librsvg inside), at a chosen pixel density.
import sharp from "sharp";

/**
 * Renders `svg` to PNG. `pixelRatio` 2 gives a picture twice the SVG's width and height, sharp on
 * high-density screens while the HTML report still shows it at the SVG's size.
 * Text needs a font that fontconfig can find (DejaVu, Liberation or Arial); without one librsvg
 * silently draws no glyphs.
 */
export async function svgToPng(svg: string, pixelRatio = 2): Promise<Uint8Array> {
  if (!(pixelRatio > 0) || pixelRatio > 8) throw new RangeError(`pixelRatio must be in (0, 8], got ${pixelRatio}`);
  const png = await sharp(Buffer.from(svg), { density: 72 * pixelRatio })
    .png({ compressionLevel: 9 })
    .toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}
