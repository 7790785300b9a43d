/**
 * Image-quality metrics on 8-bit RGB (alpha ignored).
 *
 * - PSNR: 10·log10(255² / MSE), MSE over the R, G and B samples of one image together.
 * - MS-SSIM: the standard 5-scale definition (Wang, Simoncelli & Bovik 2003), exactly as
 *   pytorch_msssim / CompressAI compute it: 11×11 Gaussian window (σ = 1.5, separable, 'valid'
 *   filtering, no padding), K1 = 0.01, K2 = 0.03, L = 255, weights
 *   [0.0448, 0.2856, 0.3001, 0.2363, 0.1333], 2×2 average-pool downsampling between scales;
 *   contrast-structure term at scales 1–4 and full SSIM at scale 5 (both clamped at 0).
 *   Computed per RGB channel, then the mean over the three channels (what CompressAI reports).
 *
 * Dataset figures average the per-image values (PSNR in dB, MS-SSIM linear) over images.
 */

export const MSSSIM_WEIGHTS = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];
const WIN = 11;
const SIGMA = 1.5;
const K1 = 0.01;
const K2 = 0.03;
const L = 255;
const C1 = (K1 * L) ** 2;
const C2 = (K2 * L) ** 2;

export type Pixels = Uint8ClampedArray | Uint8Array;

function checkSameSize(a: Pixels, b: Pixels, width: number, height: number) {
  if (a.length < width * height * 4 || b.length < width * height * 4) {
    throw new Error(`image buffers too small for ${width}x${height} RGBA`);
  }
}

/** Mean squared error over the RGB samples of two RGBA images. */
export function mseRgb(a: Pixels, b: Pixels, width: number, height: number): number {
  checkSameSize(a, b, width, height);
  const n = width * height * 4;
  let s = 0;
  for (let i = 0; i < n; i += 4) {
    const d0 = a[i] - b[i];
    const d1 = a[i + 1] - b[i + 1];
    const d2 = a[i + 2] - b[i + 2];
    s += d0 * d0 + d1 * d1 + d2 * d2;
  }
  return s / (width * height * 3);
}

/** PSNR in dB on RGB (8-bit peak 255). Identical images give Infinity. */
export function psnrRgb(a: Pixels, b: Pixels, width: number, height: number): number {
  const mse = mseRgb(a, b, width, height);
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

export const gaussianWindow = (() => {
  const g = new Float64Array(WIN);
  let sum = 0;
  for (let i = 0; i < WIN; i++) {
    const x = i - (WIN - 1) / 2;
    g[i] = Math.exp(-(x * x) / (2 * SIGMA * SIGMA));
    sum += g[i];
  }
  for (let i = 0; i < WIN; i++) g[i] /= sum;
  return g;
})();

interface Plane {
  w: number;
  h: number;
  d: Float64Array;
}

function channelPlane(src: Pixels, width: number, height: number, c: number): Plane {
  const d = new Float64Array(width * height);
  for (let i = 0, j = c; i < d.length; i++, j += 4) d[i] = src[j];
  return { w: width, h: height, d };
}

/** 2×2 average pooling (odd trailing row/column zero-padded like torch avg_pool2d(padding=s%2)). */
function downsample(p: Plane): Plane {
  const padW = p.w % 2;
  const padH = p.h % 2;
  const w = Math.floor((p.w + 2 * padW - 2) / 2) + 1;
  const h = Math.floor((p.h + 2 * padH - 2) / 2) + 1;
  const d = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let dy = 0; dy < 2; dy++) {
        const yy = 2 * y + dy - padH;
        if (yy < 0 || yy >= p.h) continue;
        for (let dx = 0; dx < 2; dx++) {
          const xx = 2 * x + dx - padW;
          if (xx < 0 || xx >= p.w) continue;
          s += p.d[yy * p.w + xx];
        }
      }
      d[y * w + x] = s / 4;
    }
  }
  return { w, h, d };
}

/**
 * 'valid' separable Gaussian filtering (11 taps, symmetric → 6 multiplies per pass).
 * `out` may be passed in to avoid allocation; `tmp` is scratch of size h·(w−10).
 */
function filterValid(src: Float64Array, w: number, h: number, out?: Float64Array, tmp?: Float64Array): Float64Array {
  const ow = w - WIN + 1;
  const oh = h - WIN + 1;
  const g = gaussianWindow;
  const g0 = g[0], g1 = g[1], g2 = g[2], g3 = g[3], g4 = g[4], g5 = g[5];
  const t = tmp && tmp.length >= h * ow ? tmp : new Float64Array(h * ow);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    const orow = y * ow;
    for (let x = 0; x < ow; x++) {
      const b = row + x;
      t[orow + x] =
        g0 * (src[b] + src[b + 10]) + g1 * (src[b + 1] + src[b + 9]) + g2 * (src[b + 2] + src[b + 8]) +
        g3 * (src[b + 3] + src[b + 7]) + g4 * (src[b + 4] + src[b + 6]) + g5 * src[b + 5];
    }
  }
  const o = out && out.length >= oh * ow ? out : new Float64Array(oh * ow);
  const s1 = ow, s2 = 2 * ow, s3 = 3 * ow, s4 = 4 * ow, s5 = 5 * ow, s6 = 6 * ow, s7 = 7 * ow, s8 = 8 * ow, s9 = 9 * ow, s10 = 10 * ow;
  for (let y = 0; y < oh; y++) {
    const orow = y * ow;
    for (let x = 0; x < ow; x++) {
      const b = orow + x;
      o[b] =
        g0 * (t[b] + t[b + s10]) + g1 * (t[b + s1] + t[b + s9]) + g2 * (t[b + s2] + t[b + s8]) +
        g3 * (t[b + s3] + t[b + s7]) + g4 * (t[b + s4] + t[b + s6]) + g5 * t[b + s5];
    }
  }
  return o;
}

function square(a: Float64Array, out?: Float64Array): Float64Array {
  const o = out ?? new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) o[i] = a[i] * a[i];
  return o;
}

function mul(a: Float64Array, b: Float64Array, out?: Float64Array): Float64Array {
  const o = out ?? new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) o[i] = a[i] * b[i];
  return o;
}

/** Reference-side statistics, reusable across many distorted versions of the same image. */
interface ScaleRef {
  plane: Plane;
  mu: Float64Array; // filtered x
  ex2: Float64Array; // filtered x²
}
export interface MsssimReference {
  width: number;
  height: number;
  channels: ScaleRef[][]; // [channel][scale]
}

export const MSSSIM_MIN_SIDE = (WIN - 1) * 2 ** (MSSSIM_WEIGHTS.length - 1); // 160, as pytorch_msssim asserts

export function msssimPrepare(ref: Pixels, width: number, height: number): MsssimReference {
  if (Math.min(width, height) <= MSSSIM_MIN_SIDE) {
    throw new Error(`MS-SSIM needs both sides > ${MSSSIM_MIN_SIDE} px (got ${width}x${height})`);
  }
  const channels: ScaleRef[][] = [];
  for (let c = 0; c < 3; c++) {
    const scales: ScaleRef[] = [];
    let p = channelPlane(ref, width, height, c);
    for (let s = 0; s < MSSSIM_WEIGHTS.length; s++) {
      if (s > 0) p = downsample(p);
      scales.push({ plane: p, mu: filterValid(p.d, p.w, p.h), ex2: filterValid(square(p.d), p.w, p.h) });
    }
    channels.push(scales);
  }
  return { width, height, channels };
}

// reusable scratch buffers per plane size (the benchmark measures many images of one size)
const scratchCache = new Map<string, { prod: Float64Array; tmp: Float64Array; o1: Float64Array; o2: Float64Array; o3: Float64Array }>();
function scratch(w: number, h: number) {
  const key = `${w}x${h}`;
  let s = scratchCache.get(key);
  if (!s) {
    const n = (w - WIN + 1) * (h - WIN + 1);
    s = { prod: new Float64Array(w * h), tmp: new Float64Array(h * (w - WIN + 1)), o1: new Float64Array(n), o2: new Float64Array(n), o3: new Float64Array(n) };
    if (scratchCache.size > 16) scratchCache.clear();
    scratchCache.set(key, s);
  }
  return s;
}

/** Per-scale (cs, ssim) means for one channel. */
function channelScales(ref: ScaleRef[], dist: Plane): { cs: number[]; ssim: number[] } {
  const cs: number[] = [];
  const ssim: number[] = [];
  let q = dist;
  for (let s = 0; s < ref.length; s++) {
    if (s > 0) q = downsample(q);
    const r = ref[s];
    const sc = scratch(q.w, q.h);
    const muY = filterValid(q.d, q.w, q.h, sc.o1, sc.tmp);
    const ey2 = filterValid(square(q.d, sc.prod), q.w, q.h, sc.o2, sc.tmp);
    const exy = filterValid(mul(r.plane.d, q.d, sc.prod), q.w, q.h, sc.o3, sc.tmp);
    let csSum = 0;
    let ssimSum = 0;
    const n = muY.length;
    for (let i = 0; i < n; i++) {
      const mx = r.mu[i];
      const my = muY[i];
      const sxx = r.ex2[i] - mx * mx;
      const syy = ey2[i] - my * my;
      const sxy = exy[i] - mx * my;
      const csv = (2 * sxy + C2) / (sxx + syy + C2);
      csSum += csv;
      ssimSum += ((2 * mx * my + C1) / (mx * mx + my * my + C1)) * csv;
    }
    cs.push(csSum / n);
    ssim.push(ssimSum / n);
  }
  return { cs, ssim };
}

/** MS-SSIM (linear, 0..1) of `dist` against a prepared reference: mean over R, G, B. */
export function msssimWith(ref: MsssimReference, dist: Pixels): number {
  const nS = MSSSIM_WEIGHTS.length;
  let total = 0;
  for (let c = 0; c < 3; c++) {
    const { cs, ssim } = channelScales(ref.channels[c], channelPlane(dist, ref.width, ref.height, c));
    let v = 1;
    for (let s = 0; s < nS - 1; s++) v *= Math.max(cs[s], 0) ** MSSSIM_WEIGHTS[s];
    v *= Math.max(ssim[nS - 1], 0) ** MSSSIM_WEIGHTS[nS - 1];
    total += v;
  }
  return total / 3;
}

export function msssimRgb(a: Pixels, b: Pixels, width: number, height: number): number {
  checkSameSize(a, b, width, height);
  return msssimWith(msssimPrepare(a, width, height), b);
}

/** MS-SSIM in dB as used for BD fits and plots: −10·log10(1 − ms). */
export function msssimDb(ms: number): number {
  return -10 * Math.log10(Math.max(1 - ms, 1e-12));
}

export function bitsPerPixel(bytes: number, width: number, height: number): number {
  return (bytes * 8) / (width * height);
}
