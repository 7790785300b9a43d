import { describe, expect, it } from 'vitest';
import { bitsPerPixel, msssimDb, msssimRgb, mseRgb, psnrRgb, MSSSIM_WEIGHTS } from '../bench/metrics.ts';

function solid(w: number, h: number, rgb: [number, number, number]) {
  const d = new Uint8ClampedArray(w * h * 4);
  for (let i = 0; i < w * h; i++) d.set([...rgb, 255], i * 4);
  return d;
}

/** Deterministic integer test pattern and a distorted copy (same formulas as the numpy check). */
function pattern(S: number) {
  const a = new Uint8ClampedArray(S * S * 4);
  const b = new Uint8ClampedArray(S * S * 4);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      for (let c = 0; c < 3; c++) {
        const va = (x * 7 + y * 13 + c * 50 + ((x * y) % 17) * 5) % 256;
        const noise = ((x * 3 + y * 5 + c * 7) % 11) - 5;
        const vb = va + 4 * noise + ((Math.floor(x / 8) + Math.floor(y / 8)) % 3) * 12 - 12;
        a[(y * S + x) * 4 + c] = va;
        b[(y * S + x) * 4 + c] = vb; // Uint8ClampedArray clamps to 0..255 like np.clip
      }
      a[(y * S + x) * 4 + 3] = 255;
      b[(y * S + x) * 4 + 3] = 255;
    }
  }
  return { a, b };
}

describe('PSNR on RGB', () => {
  it('constant offset of 10 → MSE 100, PSNR 20·log10(25.5)', () => {
    const a = solid(64, 48, [100, 150, 200]);
    const b = solid(64, 48, [110, 140, 210]);
    expect(mseRgb(a, b, 64, 48)).toBe(100);
    expect(psnrRgb(a, b, 64, 48)).toBeCloseTo(20 * Math.log10(25.5), 12); // 28.1308 dB
  });
  it('ignores alpha and gives Infinity for identical images', () => {
    const a = solid(8, 8, [1, 2, 3]);
    const b = a.slice();
    for (let i = 3; i < b.length; i += 4) b[i] = 0;
    expect(psnrRgb(a, b, 8, 8)).toBe(Infinity);
  });
  it('offset in one channel only averages over the three channels', () => {
    const a = solid(16, 16, [100, 100, 100]);
    const b = solid(16, 16, [103, 100, 100]);
    expect(mseRgb(a, b, 16, 16)).toBeCloseTo(3, 12);
  });
});

describe('MS-SSIM (5-scale, RGB mean)', () => {
  it('is 1 for identical images', () => {
    const { a } = pattern(192);
    expect(msssimRgb(a, a, 192, 192)).toBeCloseTo(1, 12);
  });

  it('closed form for two constant images (sides divisible by 16): cs = 1 at every scale, so MS-SSIM = l^w5', () => {
    const a = solid(192, 176, [100, 100, 100]);
    const b = solid(192, 176, [110, 110, 110]);
    const C1 = (0.01 * 255) ** 2;
    const l = (2 * 100 * 110 + C1) / (100 ** 2 + 110 ** 2 + C1);
    expect(msssimRgb(a, b, 192, 176)).toBeCloseTo(l ** MSSSIM_WEIGHTS[4], 12);
  });

  it('matches an independent numpy/scipy implementation of pytorch_msssim on a fixed pair', () => {
    // Reference: 2-D scipy.signal.correlate2d with the 11x11 Gaussian (σ=1.5), valid mode,
    // reshape-mean 2x2 pooling, per-channel MS-SSIM, mean over RGB → 0.9719276001226884,
    // PSNR 24.32598682350467 dB (bench/README.md documents the script).
    const { a, b } = pattern(192);
    expect(msssimRgb(a, b, 192, 192)).toBeCloseTo(0.9719276001226884, 10);
    expect(psnrRgb(a, b, 192, 192)).toBeCloseTo(24.32598682350467, 10);
  });

  it('rejects images too small for 5 scales', () => {
    const a = solid(160, 300, [0, 0, 0]);
    expect(() => msssimRgb(a, a, 160, 300)).toThrow();
  });

  it('dB conversion and bpp', () => {
    expect(msssimDb(0.99)).toBeCloseTo(20, 10);
    expect(bitsPerPixel(49152, 768, 512)).toBe(1);
  });
});
