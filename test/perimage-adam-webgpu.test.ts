/**
 * The trainer's fused Adam (src/profiles/perimage/encoder/adam.ts: three programs, packed
 * moments) against the per-tensor path it replaces (refine-ops adamFused + tf.clipByValue,
 * setFusedAdam(false)), both on tfjs WebGPU (SwiftShader in CI; skipped without an adapter):
 * theta and the canvas after several steps with changing gradients and learning rates (so
 * wrong moments, a swapped m/s or theta/canvas section, or a wrong bias correction show),
 * stacked members, and canvas values pushed past ±127 (the clamp).
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import { AdamState, setFusedAdam } from '../src/profiles/perimage/encoder/adam.js';
import { relErr, webgpuAdapter } from './webgpu-helpers.js';

const adapter = await webgpuAdapter('perimage-adam-webgpu');

const wave = (n: number, a: number, b: number) => Float32Array.from({ length: n }, (_, i) => a * Math.sin(i * b + a));

async function steps(theta0: Float32Array, canvas0: Float32Array, shape: [number, number, number, number]): Promise<[Float32Array, Float32Array]> {
  const st = new AdamState(theta0, canvas0, shape);
  try {
    for (let t = 1; t <= 5; t++) {
      const n = tf.tidy(() => {
        const gt = tf.tensor1d(wave(theta0.length, 0.3 * t, 0.7 + t));
        // large canvas gradients of either sign: with lr 3 the values near ±127 cross the bound
        const gl = tf.tensor4d(wave(canvas0.length, 2 / t, 1.3 * t), shape);
        return st.next([gt, gl], 0.01 * t, 3 / t, t);
      });
      st.commit(n);
    }
    return await st.read();
  } finally {
    st.dispose();
  }
}

describe.skipIf(!adapter.found)(`perimage fused Adam on webgpu (${adapter.description})`, () => {
  // two sizes in one process: the programs bake the sizes in, so a shader cached for one
  // size must not serve the other
  it.each([3, 1])('equals adamFused per tensor + the clamp (theta, canvas, %i members)', async (K) => {
    await initBackend('webgpu');
    const shape: [number, number, number, number] = [K, 7, 9, 1];
    const theta0 = wave(K * 101, 0.5, 0.37);
    const canvas0 = Float32Array.from({ length: K * 63 }, (_, i) => (i % 5 === 0 ? 126.5 * Math.sign(Math.sin(i)) : Math.sin(i) * 3));
    const [thF, latF] = await steps(theta0, canvas0, shape);
    setFusedAdam(false);
    let ref: [Float32Array, Float32Array];
    try {
      ref = await steps(theta0, canvas0, shape);
    } finally {
      setFusedAdam(true);
    }
    const [thR, latR] = ref;
    expect(relErr(thR, thF)).toBeLessThan(1e-6);
    expect(relErr(latR, latF)).toBeLessThan(1e-6);
    // the clamp was exercised on both sides, and the values moved
    expect(latR.filter((v) => v === 127).length).toBeGreaterThan(0);
    expect(latR.filter((v) => v === -127).length).toBeGreaterThan(0);
    expect(relErr(theta0, thR)).toBeGreaterThan(1e-3);
  });
});
