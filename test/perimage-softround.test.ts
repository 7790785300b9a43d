/**
 * The softnoise relaxation (src/profiles/perimage/encoder/softround.ts):
 *   - tfjs ops (WASM): value and gradient against a float64 transcription of
 *     q = sr(sr(y) + u − ½) with the counter noise, and the gradient against central
 *     differences of that transcription (noise fixed); members share the draw (element i reads
 *     noise i mod span); as T → 0 the value is rounding: round(round(y) + u − ½);
 *   - the schedule: phase 1 anneals T linearly from softT[0] to softT[1]; 'noise' keeps the
 *     additive proxy; phase 2 is straight-through;
 *   - WebGPU (SwiftShader in CI; skipped without an adapter): the two fused programs against
 *     the tfjs ops, values and gradients, with stacked members.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import { noiseUniform } from '../src/model/refine-ops.js';
import { ensureGradients } from '../src/profiles/perimage/encoder/grads.js';
import { setFusedSoftround, softNoise } from '../src/profiles/perimage/encoder/softround.js';
import { DEFAULT_TRAIN, scheduleAt } from '../src/profiles/perimage/encoder/train.js';
import { relErr, webgpuAdapter } from './webgpu-helpers.js';

const adapter = await webgpuAdapter('perimage-softround');

/** float64 sr_T */
function sr(v: number, T: number): number {
  const f = Math.floor(v);
  return f + 0.5 + Math.tanh((v - f - 0.5) / T) / (2 * Math.tanh(1 / (2 * T)));
}
const ref = (y: number, u: number, T: number) => sr(sr(y, T) + u - 0.5, T);

/** latents with values over several integers, some near the half-integers */
function latents(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 1000) / 100 - 5 + (i % 3 === 0 ? 0.499 : 0));
}

async function valueAndGrad(y: Float32Array, shape: number[], T: number, key: number, span: number, w: Float32Array, mask?: Float32Array) {
  ensureGradients();
  const out = tf.tidy(() => {
    const x = tf.tensor(y, shape);
    const wt = tf.tensor(w, shape);
    const m = mask ? tf.tensor(mask, [1, ...shape.slice(1)]) : undefined;
    const q = softNoise(x, T, key, span, m);
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(softNoise(a, T, key, span, m), wt)))(x);
    return [q, g];
  });
  const [q, g] = await Promise.all(out.map((t) => t.data()));
  tf.dispose(out);
  return { q: q as Float32Array, g: g as Float32Array };
}

describe('perimage softnoise relaxation (tfjs ops, WASM)', () => {
  it('value and gradient follow the float64 formula; members share the noise draw', async () => {
    await initBackend('wasm');
    const span = 6 * 7;
    const K = 2;
    const y = latents(K * span);
    const w = Float32Array.from({ length: K * span }, (_, i) => 1 + (i % 5) * 0.25);
    const key = 12345;
    const u = noiseUniform(span, key);
    for (const T of [0.3, 0.1]) {
      const { q, g } = await valueAndGrad(y, [K, 6, 7, 1], T, key, span, w);
      let worstQ = 0;
      let worstG = 0;
      for (let i = 0; i < K * span; i++) {
        const ui = u[i % span];
        worstQ = Math.max(worstQ, Math.abs(q[i] - ref(y[i], ui, T)));
        // central difference of the float64 formula with the same noise
        const h = 1e-4;
        const fd = (ref(y[i] + h, ui, T) - ref(y[i] - h, ui, T)) / (2 * h);
        worstG = Math.max(worstG, Math.abs(g[i] - w[i] * fd) / Math.max(1, Math.abs(w[i] * fd)));
      }
      expect(worstQ).toBeLessThan(2e-5);
      expect(worstG).toBeLessThan(2e-3);
    }
  });

  it('at a small temperature the value is rounding of rounding plus noise', async () => {
    await initBackend('wasm');
    const n = 64;
    const y = latents(n).map((v) => Math.round(v) + 0.3 * Math.sin(v * 13));
    const u = noiseUniform(n, 7);
    const { q } = await valueAndGrad(y, [1, 8, 8, 1], 0.01, 7, n, new Float32Array(n).fill(1));
    for (let i = 0; i < n; i++) {
      const z = Math.round(y[i]) + u[i] - 0.5;
      if (Math.abs(z - Math.floor(z) - 0.5) < 0.05) continue; // too near a rounding boundary for T = 0.01
      expect(q[i]).toBeCloseTo(Math.round(z), 3);
    }
  });

  it('schedule: T anneals over phase 1, plain noise on request, straight-through in phase 2', () => {
    const st = { ...DEFAULT_TRAIN, noiseFrac: 0.75, softT: [0.3, 0.1] as const };
    const a = scheduleAt(0, 1000, st, 5, -3);
    const b = scheduleAt(375, 1000, st, 5, -3);
    expect(a.relax).toEqual({ kind: 'softnoise', key: 5, T: 0.3 });
    expect(b.relax.kind).toBe('softnoise');
    expect((b.relax as { T: number }).T).toBeCloseTo(0.2, 10);
    expect(scheduleAt(749, 1000, st, 5, -3).phase).toBe('noise');
    expect(scheduleAt(750, 1000, st, 5, -3).relax).toEqual({ kind: 'ste' });
    expect(scheduleAt(10, 1000, { ...st, relax: 'noise' }, 9, -3).relax).toEqual({ kind: 'noise', key: 9 });
    // the floor of log2 b: a FINE_SCALES file (-8) trains phase 1 at the base floor, phase 2 at its own
    expect(scheduleAt(749, 1000, st, 5, -8).log2bMin).toBe(-3);
    expect(scheduleAt(750, 1000, st, 5, -8).log2bMin).toBe(-8);
    expect(scheduleAt(10, 1000, st, 5, -3).log2bMin).toBe(-3);
    expect(scheduleAt(10, 1000, { ...st, phase1Log2bMin: -8 }, 5, -8).log2bMin).toBe(-8);
    expect(DEFAULT_TRAIN.relax).toBe('softnoise');
  });
});

describe.skipIf(!adapter.found)(`perimage softnoise on webgpu (${adapter.description})`, () => {
  it('the fused programs equal the tfjs ops (value, gradient, stacked members)', async () => {
    await initBackend('webgpu');
    const span = 13 * 11;
    const K = 3;
    const y = latents(K * span);
    const w = Float32Array.from({ length: K * span }, (_, i) => Math.cos(i));
    for (const T of [0.3, 0.12]) {
      const fusedR = await valueAndGrad(y, [K, 13, 11, 1], T, 99, span, w);
      setFusedSoftround(false);
      try {
        const opsR = await valueAndGrad(y, [K, 13, 11, 1], T, 99, span, w);
        expect(relErr(opsR.q, fusedR.q)).toBeLessThan(1e-5);
        expect(relErr(opsR.g, fusedR.g)).toBeLessThan(1e-4);
      } finally {
        setFusedSoftround(true);
      }
    }
  });

  it('the mask folded into the fused programs equals the tfjs ops times the mask', async () => {
    await initBackend('webgpu');
    const span = 13 * 11;
    const K = 3;
    const y = latents(K * span);
    const w = Float32Array.from({ length: K * span }, (_, i) => Math.cos(i));
    const mask = Float32Array.from({ length: span }, (_, i) => (i % 4 === 1 ? 0 : 1));
    const fusedR = await valueAndGrad(y, [K, 13, 11, 1], 0.2, 99, span, w, mask);
    setFusedSoftround(false);
    let opsR: Awaited<ReturnType<typeof valueAndGrad>>;
    try {
      opsR = await valueAndGrad(y, [K, 13, 11, 1], 0.2, 99, span, w, mask);
    } finally {
      setFusedSoftround(true);
    }
    expect(relErr(opsR.q, fusedR.q)).toBeLessThan(1e-5);
    expect(relErr(opsR.g, fusedR.g)).toBeLessThan(1e-4);
    // masked out in every member, value and gradient (not only in the first)
    for (let i = 0; i < K * span; i++) {
      if (mask[i % span] === 0) expect(fusedR.q[i] === 0 && fusedR.g[i] === 0).toBe(true);
      else expect(fusedR.g[i]).not.toBe(0);
    }
  });
});
