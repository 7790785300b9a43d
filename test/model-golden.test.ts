/**
 * Golden vectors of the trained model (train/export.py --golden): the TypeScript float
 * transforms on tfjs WASM must reproduce PyTorch's g_a, h_a and g_s on the exported weights
 * within a stated tolerance, and the whole decode path (integer h_s, dequantisation with the
 * interpolated gain, g_s, 8-bit rounding) must give PyTorch's pixels up to rare ±1 steps.
 * Tolerances: float32 on different kernels (PyTorch CPU/GPU vs XNNPACK) differ by ~1e-6
 * relative per op; after ~10 layers we allow 1e-3 of the tensor's range.
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { interpolateGain } from '../src/codec.js';
import { coreModelFromWeights } from '../src/core/model.js';
import { createNodeCore } from '../src/core/node-loader.js';
import { createTransforms } from '../src/model/transforms.js';
import { loadDefaultWeights } from '../src/model/node-weights.js';
import type { Transforms } from '../src/model/types.js';

const GOLDEN = new URL('./fixtures/golden/golden.json', import.meta.url);
const have = existsSync(GOLDEN) && existsSync(new URL('../weights/nimg-v1.bin', import.meta.url));

interface Golden {
  width: number; height: number; quality: number;
  rgb: number[]; y: number[]; y_shape: number[]; z: number[];
  zhat: number[]; zhat_shape: number[]; mu_q: number[]; k: number[];
  xhat: number[]; x8: number[];
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
function range(a: ArrayLike<number>): number {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < a.length; i++) { lo = Math.min(lo, a[i]); hi = Math.max(hi, a[i]); }
  return hi - lo;
}

describe.skipIf(!have)('trained model vs PyTorch golden vectors', () => {
  let t: Transforms | undefined;
  afterAll(() => t?.dispose());

  it('g_a, h_a, g_s and the decoded pixels match', async () => {
    const g = JSON.parse(readFileSync(GOLDEN, 'utf8')) as Golden;
    const w = await loadDefaultWeights();
    const { M, stride } = w.manifest.arch;
    const core = await createNodeCore();
    core.setModel(coreModelFromWeights(w));
    t = await createTransforms(w, { backend: 'wasm', threads: 1, tileSize: Infinity });

    const W = g.width, H = g.height;
    const pw = Math.ceil(W / stride) * stride, ph = Math.ceil(H / stride) * stride;
    // golden rgb is planar [3, H, W]; the core takes interleaved RGB
    const rgb = new Uint8Array(W * H * 3);
    for (let c = 0; c < 3; c++) for (let i = 0; i < W * H; i++) rgb[i * 3 + c] = g.rgb[c * W * H + i];
    const x = core.toPlanar(rgb, W, H, 3, pw, ph);

    const y = await t.analysis(x, ph, pw);
    expect(y.length).toBe(g.y.length);
    expect(maxAbsDiff(y, g.y)).toBeLessThan(1e-3 * range(g.y));

    const [, h, wl] = g.y_shape;
    const levels = w.manifest.quality.levels;
    const gEnc = interpolateGain(w.tensors.get('gain.enc')!.data as Float32Array, levels, M, g.quality);
    const ys = new Float32Array(y.length);
    for (let c = 0; c < M; c++) for (let i = 0; i < h * wl; i++) ys[c * h * wl + i] = y[c * h * wl + i] * gEnc[c];
    const z = await t.hyperAnalysis(ys, h, wl);
    expect(maxAbsDiff(z, g.z)).toBeLessThan(1e-3 * range(g.z) + 1e-4);

    // decoder side from the golden symbols: exact integer path, then float synthesis
    const [, hz, wz] = g.zhat_shape;
    const { muQ } = core.hyperSynthesis(Int32Array.from(g.zhat), hz, wz);
    expect(muQ).toEqual(Int32Array.from(g.mu_q));
    const gDec = interpolateGain(w.tensors.get('gain.dec')!.data as Float32Array, levels, M, g.quality);
    const yhat = core.dequantizeLatent(Int32Array.from(g.k), muQ, gDec, M, h * wl);
    const xhat = await t.synthesis(yhat, h, wl);
    // golden xhat is cropped to H x W
    const crop = new Float32Array(3 * H * W);
    for (let c = 0; c < 3; c++) for (let r = 0; r < H; r++) for (let q = 0; q < W; q++) crop[(c * H + r) * W + q] = xhat[(c * ph + r) * pw + q];
    expect(maxAbsDiff(crop, g.xhat)).toBeLessThan(1e-3);

    const rgba = core.toRgba(xhat, pw, ph, W, H);
    let off = 0, maxStep = 0;
    for (let c = 0; c < 3; c++) for (let i = 0; i < W * H; i++) {
      const d = Math.abs(rgba[i * 4 + c] - g.x8[c * W * H + i]);
      if (d) off++;
      maxStep = Math.max(maxStep, d);
    }
    expect(maxStep).toBeLessThanOrEqual(1);
    expect(off / (3 * W * H)).toBeLessThan(0.01);
  }, 120_000);
});
