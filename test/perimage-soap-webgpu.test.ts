/**
 * The fused SOAP step (src/profiles/perimage/encoder/soap-gpu.ts: three programs) against the
 * tfjs-op path it replaces (setFusedSoap(false)), both on tfjs WebGPU (SwiftShader in CI;
 * skipped without an adapter), from one state with random orthogonal bases (so a wrong
 * rotation, a transposed basis, a wrong statistic or bias correction shows): theta and the
 * statistics after two steps, both networks' matrices, one and three members. The state is
 * set, not grown through refresh(): see SoapState.setState.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import { makeLayout } from '../src/profiles/perimage/encoder/model.js';
import { DEFAULT_SOAP, jacobiEigenvectors, setFusedSoap, SoapState, soapMatrices } from '../src/profiles/perimage/encoder/soap.js';
import { defaultArch } from '../src/profiles/perimage/types.js';
import { relErr, webgpuAdapter } from './webgpu-helpers.js';

const adapter = await webgpuAdapter('perimage-soap-webgpu');

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}
/** a random n x n orthogonal matrix: the eigenvectors of a random symmetric one */
function orthogonal(n: number, r: () => number): Float64Array {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = r();
  return jacobiEigenvectors(a, n);
}

const lay = makeLayout(defaultArch(), 16, 16);
const settings = { ...DEFAULT_SOAP, on: ['arm', 'syn'] as const };

async function twoSteps(K: number, fused: boolean): Promise<[Float32Array, Float32Array]> {
  setFusedSoap(fused);
  const r = rng(7);
  const st = new SoapState(lay, K, settings);
  const { sz, qz, mats } = st.layout;
  const S = new Float32Array(K * sz);
  const Q = new Float64Array(K * qz);
  for (let k = 0; k < K; k++) {
    for (const { rows: m, cols: n, s, q } of mats) {
      for (let i = 0; i < m * m + n * n + m * n; i++) S[k * sz + s + i] = r();
      for (let i = 0; i < m * n; i++) S[k * sz + s + m * m + n * n + m * n + i] = 0.01 + r() ** 2; // M2 >= 0
      Q.set(orthogonal(m, r), k * qz + q);
      Q.set(orthogonal(n, r), k * qz + q + m * m);
    }
  }
  st.setState(S, Q);
  const nT = K * lay.nTheta;
  let th = tf.tensor1d(Float32Array.from({ length: nT }, r));
  try {
    for (let tt = 1; tt <= 2; tt++) {
      const g = Float32Array.from({ length: nT }, r);
      const adam = Float32Array.from({ length: nT }, r);
      const n = tf.tidy(() => st.next(th, tf.tensor1d(adam), tf.tensor1d(g), 0.01 * tt, tt + 3));
      th.dispose();
      th = n.th;
      st.commit(n.S);
    }
    return [(await th.data()) as Float32Array, (await (st as unknown as { S: tf.Tensor }).S.data()) as Float32Array];
  } finally {
    th.dispose();
    st.dispose();
    setFusedSoap(true);
  }
}

describe.skipIf(!adapter.found)(`perimage fused SOAP on webgpu (${adapter.description})`, () => {
  it.each([3, 1])('equals the tfjs-op step (%i members)', async (K) => {
    await initBackend('webgpu');
    const [thF, sF] = await twoSteps(K, true);
    const [thR, sR] = await twoSteps(K, false);
    expect(relErr(sR, sF)).toBeLessThan(1e-5);
    for (const { offset, rows, cols } of soapMatrices(lay, settings.on)) {
      for (let k = 0; k < K; k++) expect(relErr(thR, thF, k * lay.nTheta + offset, k * lay.nTheta + offset + rows * cols)).toBeLessThan(1e-5);
    }
    // outside the matrices: Adam's values, untouched by both
    expect(relErr(thR, thF)).toBeLessThan(1e-5);
  });
});
