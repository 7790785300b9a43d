/**
 * PSNR in dB over the RGB channels of two RGBA (4 bytes per pixel) buffers of the same
 * size, alpha ignored; identical images give Infinity. The one definition the demo, the
 * benchmarks and the tests share (the field's convention: per image, 8-bit peak 255).
 */
export function psnrRgba(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let se = 0;
  for (let i = 0; i < a.length; i += 4) {
    const d0 = a[i] - b[i], d1 = a[i + 1] - b[i + 1], d2 = a[i + 2] - b[i + 2];
    se += d0 * d0 + d1 * d1 + d2 * d2;
  }
  return se === 0 ? Infinity : 10 * Math.log10((255 * 255 * 3 * (a.length / 4)) / se);
}
