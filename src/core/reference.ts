/**
 * Plain TypeScript reference of the bit-exact core's arithmetic (weights/README.md):
 * integer h_s, (de)quantization and pre/post-processing. Slow and obvious on purpose; the
 * tests prove that the WASM build (assembly/) gives identical results.
 *
 * Float rules (the WASM core follows them exactly):
 * - every float op is an IEEE binary32 op, no FMA: `Math.fround(a op b)` of two float32
 *   values equals the binary32 result for + - * / (double has > 2·24+2 bits);
 * - round half to even (f32.nearest);
 * - NaN → 0 wherever a float becomes an integer; clamps saturate (±Infinity included).
 */
import type { CoreModel, HsLayer } from './types.js';

const f = Math.fround;

/** round half to even of a finite double */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // rounds .5 up (towards +inf)
  if (r - x === 0.5 && r % 2 !== 0) return r - 1;
  return r;
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/** float → int: round half even, clamp [lo, hi], NaN → 0 */
function quant(x: number, lo: number, hi: number): number {
  if (Number.isNaN(x)) return 0;
  return roundHalfEven(clamp(x, lo, hi));
}

export function quantizeZRef(z: Float32Array): Int32Array {
  const out = new Int32Array(z.length);
  for (let i = 0; i < z.length; i++) out[i] = quant(z[i], -255, 255);
  return out;
}

/** k = round_half_even(f32(ys - f32(mu_q * 2^-fracBits))), clamped to ±2^24, NaN → 0 */
export function quantizeLatentRef(ys: Float32Array, muQ: Int32Array, fracBits = 4): Int32Array {
  const out = new Int32Array(ys.length);
  const s = 2 ** -fracBits;
  for (let i = 0; i < ys.length; i++) {
    const mu = f(f(muQ[i]) * s);
    out[i] = quant(f(ys[i] - mu), -(2 ** 24), 2 ** 24);
  }
  return out;
}

/** yhat[c][p] = f32(f32(f32(k) + f32(mu_q * 2^-f)) * gainDec[c]) */
export function dequantizeLatentRef(k: Int32Array, muQ: Int32Array, gainDec: Float32Array, C: number, HW: number, fracBits = 4): Float32Array {
  const out = new Float32Array(C * HW);
  const s = 2 ** -fracBits;
  for (let c = 0; c < C; c++) {
    const g = gainDec[c];
    for (let p = 0; p < HW; p++) {
      const i = c * HW + p;
      out[i] = f(f(f(k[i]) + f(f(muQ[i]) * s)) * g);
    }
  }
  return out;
}

/** bytes → planar [3, padH, padW], value f32(byte / 255), edge replication */
export function toPlanarRef(px: ArrayLike<number>, width: number, height: number, channels: 3 | 4, padW: number, padH: number): Float32Array {
  const out = new Float32Array(3 * padH * padW);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < padH; y++) {
      const sy = Math.min(y, height - 1);
      for (let x = 0; x < padW; x++) {
        const sx = Math.min(x, width - 1);
        out[(c * padH + y) * padW + x] = f(px[(sy * width + sx) * channels + c] / 255);
      }
    }
  }
  return out;
}

/** planar [3, padH, padW] → RGBA: round_half_even(f32(clamp(v, 0, 1) * 255)), NaN → 0, alpha 255 */
export function toRgbaRef(planar: Float32Array, padW: number, padH: number, width: number, height: number): Uint8ClampedArray {
  const out = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const v = planar[(c * padH + y) * padW + x];
        out[(y * width + x) * 4 + c] = Number.isNaN(v) ? 0 : roundHalfEven(f(clamp(v, 0, 1) * 255));
      }
      out[(y * width + x) * 4 + 3] = 255;
    }
  }
  return out;
}

/** floor((acc * m + 2^(sh-1)) / 2^sh), exact in doubles (|acc*m| < 2^47) */
export function requant(acc: number, m: number, sh: number): number {
  return Math.floor((acc * m + 2 ** (sh - 1)) / 2 ** sh);
}

/** one conv layer (k = 1 or 3, pad (k-1)/2) on planar int input [cin, h, w] → requantized [cout, h, w] (before clamp) */
export function hsConvRef(L: HsLayer, input: ArrayLike<number>, h: number, w: number): Float64Array {
  const out = new Float64Array(L.cout * h * w);
  const k = L.k;
  const r = (k - 1) / 2;
  for (let o = 0; o < L.cout; o++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let acc = L.b[o];
        for (let i = 0; i < L.cin; i++) {
          for (let ky = 0; ky < k; ky++) {
            const yy = y + ky - r;
            if (yy < 0 || yy >= h) continue;
            for (let kx = 0; kx < k; kx++) {
              const xx = x + kx - r;
              if (xx < 0 || xx >= w) continue;
              acc += L.w[((o * L.cin + i) * k + ky) * k + kx] * input[(i * h + yy) * w + xx];
            }
          }
        }
        out[(o * h + y) * w + x] = requant(acc, L.m[o], L.sh[o]);
      }
    }
  }
  return out;
}

/** PyTorch PixelShuffle(2): [4C, h, w] → [C, 2h, 2w]; conv channel c*4+dy*2+dx → (c, 2y+dy, 2x+dx) */
export function pixelShuffleRef(v: ArrayLike<number>, C4: number, h: number, w: number): Int32Array {
  const C = C4 / 4;
  const out = new Int32Array(C * 4 * h * w);
  for (let c = 0; c < C; c++)
    for (let dy = 0; dy < 2; dy++)
      for (let dx = 0; dx < 2; dx++)
        for (let y = 0; y < h; y++)
          for (let x = 0; x < w; x++) out[(c * 2 * h + 2 * y + dy) * 2 * w + 2 * x + dx] = v[((c * 4 + dy * 2 + dx) * h + y) * w + x];
  return out;
}

/** integer h_s: zhat int32 [Nz, hz, wz] → mu_q, idx int32 [M, 4hz, 4wz] */
export function hyperSynthesisRef(model: CoreModel, zhat: Int32Array, hz: number, wz: number): { muQ: Int32Array; idx: Int32Array } {
  const [l0, l1, l2] = model.hs;
  const z = Int32Array.from(zhat, (v) => clamp(v, -255, 255));
  const a0 = hsConvRef(l0, z, hz, wz).map((v) => clamp(v, 0, 255));
  const s0 = pixelShuffleRef(a0, l0.cout, hz, wz);
  const a1 = hsConvRef(l1, s0, 2 * hz, 2 * wz).map((v) => clamp(v, 0, 255));
  const s1 = pixelShuffleRef(a1, l1.cout, 2 * hz, 2 * wz);
  const HW = 16 * hz * wz;
  const o = hsConvRef(l2, s1, 4 * hz, 4 * wz);
  const M = model.M;
  const muQ = new Int32Array(M * HW);
  const idx = new Int32Array(M * HW);
  for (let i = 0; i < M * HW; i++) {
    muQ[i] = clamp(o[i], -32768, 32767);
    idx[i] = clamp(o[M * HW + i], 0, model.numScales - 1);
  }
  return { muQ, idx };
}
