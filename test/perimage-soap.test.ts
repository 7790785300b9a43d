/**
 * SOAP for the decoder's weight matrices (src/profiles/perimage/encoder/soap.ts), tfjs WASM:
 * the Jacobi eigensolver, which entries of theta are matrices, the first step (identity
 * bases: exactly Adam), one step after a refresh against the formula computed here in f64,
 * and a whole (batched) training run that uses it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { AdamState } from '../src/profiles/perimage/encoder/adam.js';
import { chooseArch } from '../src/profiles/perimage/encoder/arch-choice.js';
import { initTheta, makeLayout } from '../src/profiles/perimage/encoder/model.js';
import { jacobiEigenvectors, soapMatrices, DEFAULT_SOAP } from '../src/profiles/perimage/encoder/soap.js';
import { DEFAULT_TRAIN, rgbaToRows, train } from '../src/profiles/perimage/encoder/train.js';
import { trainBatch } from '../src/profiles/perimage/encoder/train-batch.js';
import { ensureGradients } from '../src/profiles/perimage/encoder/grads.js';
import { defaultArch } from '../src/profiles/perimage/types.js';
import { sampleCrop } from './refine-helpers.js';

beforeAll(async () => {
  await initBackend('wasm');
  ensureGradients();
});

/** a reproducible pseudo-random generator (the test's own: no Math.random) */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}
const mul = (a: Float64Array, b: Float64Array, n: number, m: number, p: number, ta = false, tb = false) => {
  // (n x m) · (m x p), operands optionally transposed in storage
  const c = new Float64Array(n * p);
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) {
    let s = 0;
    for (let k = 0; k < m; k++) s += (ta ? a[k * n + i] : a[i * m + k]) * (tb ? b[j * m + k] : b[k * p + j]);
    c[i * p + j] = s;
  }
  return c;
};

describe('perimage encoder: SOAP', () => {
  it('Jacobi: orthogonal eigenvectors that diagonalise the matrix, cold or warm-started', () => {
    const n = 9;
    const r = rng(3);
    const X = Float64Array.from({ length: n * n }, r);
    const A = mul(X, X, n, n, n, false, true); // X Xᵀ: symmetric PSD
    const check = (Q: Float64Array) => {
      const D = mul(Q, mul(A, Q, n, n, n), n, n, n, true);
      const I = mul(Q, Q, n, n, n, true);
      let off = 0;
      let diag = 0;
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
        if (i === j) {
          diag = Math.max(diag, Math.abs(D[i * n + j]));
          expect(I[i * n + j]).toBeCloseTo(1, 10);
        } else {
          off = Math.max(off, Math.abs(D[i * n + j]));
          expect(Math.abs(I[i * n + j])).toBeLessThan(1e-10);
        }
      }
      expect(off).toBeLessThan(1e-9 * diag);
    };
    const cold = jacobiEigenvectors(A, n);
    check(cold);
    // warm start from a slightly different matrix's basis: still exact, and it keeps that
    // basis's order (column j stays close to the previous column j)
    const A2 = A.map((v, i) => v + 1e-3 * (i % (n + 1) === 0 ? 1 : 0));
    const warm = jacobiEigenvectors(A2, n, cold);
    check(warm);
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += warm[i * n + j] * cold[i * n + j];
      expect(Math.abs(dot)).toBeGreaterThan(0.99);
    }
    // the zero matrix: the start basis back
    expect(Array.from(jacobiEigenvectors(new Float64Array(n * n), n, cold))).toEqual(Array.from(cold));
  });

  it('finds the weight matrices of theta: the synthesis and the context model, no biases or taps', () => {
    const lay = makeLayout(defaultArch(), 64, 48);
    const syn = soapMatrices(lay, ['syn']);
    const arm = soapMatrices(lay, ['arm']);
    expect(syn.map((m) => [m.rows, m.cols])).toEqual([[24, 7], [24, 24], [3, 24], [3, 27], [3, 27]]);
    expect(arm.map((m) => [m.rows, m.cols])).toEqual([[16, 16], [16, 16], [2, 16]]);
    for (const m of [...syn, ...arm]) {
      const t = lay.offsets.indexOf(m.offset);
      expect(t).toBeGreaterThanOrEqual(0);
      expect(m.rows * m.cols).toBe(lay.sizes[t]);
      expect(lay.sizes[t + 1]).toBe(m.rows); // a weight matrix: its layer's bias follows, one per row
    }
    expect(soapMatrices(lay, ['arm', 'syn'])).toEqual([...arm, ...syn]);
  });

  it('the first step is Adam\'s (identity bases); after a refresh, the rotated update of the formula', async () => {
    const lay = makeLayout(defaultArch(), 16, 16);
    const K = 2;
    const nT = lay.nTheta;
    const r = rng(11);
    const theta0 = Float32Array.from({ length: K * nT }, () => 0.1 * r());
    const canvas0 = new Float32Array(K * lay.Hc * lay.Wc);
    const shape: [number, number, number, number] = [K, lay.Hc, lay.Wc, 1];
    const grad = () => [tf.tensor1d(Float32Array.from({ length: K * nT }, r)), tf.zeros([K, lay.Hc, lay.Wc, 1])];
    const plain = new AdamState(theta0, canvas0, shape);
    const settings = { ...DEFAULT_SOAP, on: ['arm', 'syn'] as const };
    const soap = new AdamState(theta0, canvas0, shape, { lay, settings });
    try {
      const g1 = grad();
      const lr = 0.01;
      const a = plain.next(g1, lr, lr, 1);
      const s = soap.next(g1, lr, lr, 1);
      const [va, vs] = [await a.th.data(), await s.th.data()];
      for (let i = 0; i < va.length; i++) expect(vs[i]).toBeCloseTo(va[i], 6);
      plain.commit(a);
      soap.commit(s);
      // step 2: refresh (bases from L, R of step 1's gradient), then one more step
      expect(soap.soap!.dueAt(1)).toBe(true);
      expect(soap.soap!.dueAt(2)).toBe(false);
      await soap.beforeStep(1);
      const g2 = grad();
      const thBefore = await soap.th.data();
      const aa = plain.next(g2, lr, lr, 2);
      const s2 = soap.next(g2, lr, lr, 2);
      const [va2, vs2] = [await aa.th.data(), await s2.th.data()];
      const [G1, G2] = [await g1[0].data(), await g2[0].data()];
      const mats = soapMatrices(lay, settings.on);
      const inMat = new Uint8Array(nT);
      for (const { offset, rows: m, cols: n } of mats) inMat.fill(1, offset, offset + m * n);
      const sb = settings.statBeta;
      let checked = 0;
      for (let k = 0; k < K; k++) {
        // the formula on the square matrices: after one gradient their statistics have
        // distinct eigenvalues, so the bases are unique up to signs (which cancel); a
        // rectangular matrix's larger side has a null space whose basis is arbitrary
        for (const { offset, rows: m, cols: n } of mats.filter((q) => q.rows === q.cols)) {
          checked++;
          const g1k = Float64Array.from(G1.subarray(k * nT + offset, k * nT + offset + m * n));
          const g2k = Float64Array.from(G2.subarray(k * nT + offset, k * nT + offset + m * n));
          // the bases: eigenvectors of L, R after step 1
          const L1 = mul(g1k, g1k, m, n, m, false, true).map((v) => (1 - sb) * v);
          const R1 = mul(g1k, g1k, n, m, n, true, false).map((v) => (1 - sb) * v);
          const QL = jacobiEigenvectors(L1, m);
          const QR = jacobiEigenvectors(R1, n);
          const rot = (X: Float64Array) => mul(mul(QL, X, m, m, n, true), QR, m, n, n);
          // step 1 with identity bases: M1 = 0.1 g1, M2 = 0.001 g1²; step 2 rotated
          const M1 = g1k.map((v, i) => 0.9 * 0.1 * v + 0.1 * g2k[i]);
          // M2 of step 1 stays as it was (identity basis): g1²
          const Gr2 = rot(g2k);
          const M2 = g1k.map((v, i) => 0.999 * 0.001 * v * v + 0.001 * Gr2[i] * Gr2[i]);
          const c1 = 1 - 0.9 ** 2;
          const c2 = 1 - 0.999 ** 2;
          const Mr = rot(M1);
          const N = Mr.map((v, i) => v / c1 / (Math.sqrt(M2[i] / c2) + 1e-8));
          const U = mul(mul(QL, N, m, m, n), QR, m, n, n, false, true);
          for (let i = 0; i < m * n; i++) {
            const j = k * nT + offset + i;
            expect(vs2[j]).toBeCloseTo(thBefore[j] - lr * U[i], 4);
          }
        }
        // outside the matrices: Adam's update, the same as without SOAP
        for (let i = 0; i < nT; i++) if (!inMat[i]) expect(vs2[k * nT + i]).toBeCloseTo(va2[k * nT + i], 6);
      }
      expect(checked).toBe(3 * K); // the context model's two 16x16 layers, the synthesis's 24x24
      // and every matrix moved differently from Adam's
      for (const { offset, rows: m, cols: n } of mats) {
        let diff = 0;
        for (let i = 0; i < m * n; i++) diff = Math.max(diff, Math.abs(vs2[offset + i] - va2[offset + i]));
        expect(diff).toBeGreaterThan(1e-5);
      }
      tf.dispose([...g1, ...g2, aa.th, aa.lat, ...aa.mom, s2.th, s2.lat, ...s2.mom, ...(s2.soap ? [s2.soap] : [])]);
    } finally {
      plain.dispose();
      soap.dispose();
    }
  });

  it('lrScale scales SOAP\'s step (first step: half of Adam\'s on the matrices, Adam\'s elsewhere)', async () => {
    const lay = makeLayout(defaultArch(), 16, 16);
    const r = rng(5);
    const theta0 = Float32Array.from({ length: lay.nTheta }, () => 0.1 * r());
    const canvas0 = new Float32Array(lay.Hc * lay.Wc);
    const shape: [number, number, number, number] = [1, lay.Hc, lay.Wc, 1];
    const g = [tf.tensor1d(Float32Array.from({ length: lay.nTheta }, r)), tf.zeros(shape)];
    const plain = new AdamState(theta0, canvas0, shape);
    const half = new AdamState(theta0, canvas0, shape, { lay, settings: { ...DEFAULT_SOAP, lrScale: 0.5 } });
    try {
      const a = plain.next(g, 0.01, 0.01, 1);
      const h = half.next(g, 0.01, 0.01, 1);
      const [va, vh] = [await a.th.data(), await h.th.data()];
      const inMat = new Uint8Array(lay.nTheta);
      for (const { offset, rows, cols } of soapMatrices(lay, DEFAULT_SOAP.on)) inMat.fill(1, offset, offset + rows * cols);
      for (let i = 0; i < lay.nTheta; i++) {
        const want = inMat[i] ? theta0[i] + 0.5 * (va[i] - theta0[i]) : va[i];
        expect(vh[i]).toBeCloseTo(want, 6);
      }
      tf.dispose([a.th, a.lat, ...a.mom, h.th, h.lat, ...h.mom, ...(h.soap ? [h.soap] : [])]);
    } finally {
      tf.dispose(g);
      plain.dispose();
      half.dispose();
    }
  });

  it('trains with SOAP, alone and batched (one member of a batch = the run alone)', async () => {
    const W = 24, H = 16, STEPS = 40;
    const rgba = await sampleCrop(W, H, 300, 140);
    const x = rgbaToRows(rgba, W, H);
    const lambda = 1e-3;
    const lay = makeLayout(chooseArch(W * H, lambda), W, H, true);
    const theta0 = initTheta(lay, 1, [0.5, 0.5, 0.5]);
    const canvas0 = new Float32Array(lay.Hc * lay.Wc);
    const st = { ...DEFAULT_TRAIN, steps: STEPS, progressEvery: 10, lambda, soap: { ...DEFAULT_SOAP, on: ['arm', 'syn'] as const } };
    const withSoap = await train(lay, x, theta0, canvas0, st);
    const adam = await train(lay, x, theta0, canvas0, { ...st, soap: null });
    const last = (h: typeof adam.history) => h[h.length - 1].loss;
    expect(Number.isFinite(last(withSoap.history))).toBe(true);
    expect(last(withSoap.history)).toBeLessThan(withSoap.history[0].loss);
    expect(last(withSoap.history)).not.toBeCloseTo(last(adam.history), 6);
    const [b0] = await trainBatch(lay, x, [theta0, theta0], [canvas0, canvas0], { ...st, lambdas: [lambda, 4 * lambda] });
    expect(last(b0.history)).toBeCloseTo(last(withSoap.history), 3);
  }, 120_000);
});

describe('perimage encoder: SOAP settings', () => {
  it('bad settings are a NimgError before any training', async () => {
    const { encodePerImage } = await import('../src/profiles/perimage/encoder/index.js');
    const img = { width: 8, height: 8, data: new Uint8ClampedArray(8 * 8 * 4) };
    for (const soap of [{ ...DEFAULT_SOAP, on: [] }, { ...DEFAULT_SOAP, on: ['synth'] }, { ...DEFAULT_SOAP, every: 0 }, { ...DEFAULT_SOAP, statBeta: 1 }, { ...DEFAULT_SOAP, lrScale: 0 }]) {
      await expect(encodePerImage(img, { quality: 4, steps: 2, backend: 'wasm', train: { soap: soap as never } })).rejects.toMatchObject({ name: 'NimgError', code: 'BAD_INPUT' });
    }
  });
});
