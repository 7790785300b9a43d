import { describe, expect, it } from 'vitest';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { bdQuality, bdRate, pchip, pchipEval, polyfit, polyEval } from '../bench/bdrate.ts';

// a realistic, smooth codec curve (the published WebP points on Kodak, trimmed)
const curve = [
  { bpp: 0.234, psnr: 28.33, ms_ssim: 0.9257 },
  { bpp: 0.353, psnr: 29.82, ms_ssim: 0.9478 },
  { bpp: 0.513, psnr: 31.44, ms_ssim: 0.9633 },
  { bpp: 0.675, psnr: 32.88, ms_ssim: 0.9729 },
  { bpp: 0.874, psnr: 34.33, ms_ssim: 0.9799 },
  { bpp: 1.216, psnr: 36.37, ms_ssim: 0.9867 },
  { bpp: 1.52, psnr: 37.78, ms_ssim: 0.9899 },
  { bpp: 2.01, psnr: 39.56, ms_ssim: 0.9931 },
];
const scaled = (k: number) => curve.map((p) => ({ ...p, bpp: p.bpp * k }));

describe('BD-rate', () => {
  for (const method of ['poly', 'pchip'] as const) {
    for (const metric of ['psnr', 'msssim'] as const) {
      it(`is 0 for a curve against itself (${method}, ${metric})`, () => {
        expect(bdRate(curve, curve, { method, metric })).toBeCloseTo(0, 12);
      });
      it(`is −10% when every rate is ×0.9 (${method}, ${metric})`, () => {
        expect(bdRate(curve, scaled(0.9), { method, metric })).toBeCloseTo(-0.1, 10);
        expect(bdRate(curve, scaled(1.25), { method, metric })).toBeCloseTo(0.25, 10);
      });
    }
    it(`BD-PSNR: +1 dB everywhere gives +1 dB (${method})`, () => {
      const up = curve.map((p) => ({ ...p, psnr: p.psnr + 1 }));
      expect(bdQuality(curve, up, { method })).toBeCloseTo(1, 10);
      expect(bdQuality(curve, curve, { method })).toBeCloseTo(0, 12);
    });
  }

  it('is NaN when the quality ranges do not overlap', () => {
    const far = curve.map((p) => ({ ...p, psnr: p.psnr + 50 }));
    expect(bdRate(curve, far)).toBeNaN();
  });

  it('poly fit reproduces a cubic exactly; pchip interpolates its knots', () => {
    const xs = [1, 2, 3, 4, 5, 6];
    const f = (x: number) => 0.5 - 2 * x + 0.25 * x * x - 0.01 * x ** 3;
    const p = polyfit(xs, xs.map(f), 3);
    for (const x of [1.5, 3.3, 5.9]) expect(polyEval(p, x)).toBeCloseTo(f(x), 10);
    const pc = pchip(xs, xs.map(f));
    for (const x of xs) expect(pchipEval(pc, x)).toBeCloseTo(f(x), 12);
  });

  // values computed independently with numpy.polyfit / scipy PchipInterpolator on the anchors
  const anchorsFile = path.resolve(__dirname, '../../shared/anchors/kodak_anchors.json');
  it.skipIf(!existsSync(anchorsFile))('matches numpy/scipy on the published av1 and jpeg curves vs webp', () => {
    const A = JSON.parse(readFileSync(anchorsFile, 'utf8'));
    expect(bdRate(A.webp, A.av1, { method: 'poly' })).toBeCloseTo(-0.3557865899981755, 9);
    expect(bdRate(A.webp, A.jpeg, { method: 'poly' })).toBeCloseTo(0.5776912765445417, 9);
    expect(bdRate(A.webp, A.av1, { method: 'pchip' })).toBeCloseTo(-0.35641974641535723, 9);
    expect(bdRate(A.webp, A.jpeg, { method: 'pchip' })).toBeCloseTo(0.5668127760401835, 9);
  });
});
