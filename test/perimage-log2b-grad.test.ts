/**
 * The ARM's log2 b output is clamped to the file's range [lay.log2bMin, LOG2B_MAX]; the clamp's
 * gradient (forward.ts clampLog2b, and the same rule in arm-gpu.ts) passes outside the range
 * only where a descent step moves log2 b back in. With a plain clamp's gradient (zero outside)
 * the scale output dies within the first ~30 steps of an encode: the latents start at 0, every
 * position has the same context and the rate drives log2 b below the floor everywhere at once.
 * Checked on the tfjs-op path (WASM); test/perimage-arm-webgpu.test.ts holds the fused
 * program to that path on both sides of the clamp. The last test looks at a coded file: with
 * the dead gradient every latent of every file was coded with the narrowest table (scale index
 * s = 0 of the base set; measured on all 12 Kodak files at 8000 steps of 2026-12-06 and on
 * this crop). With FINE_SCALES the floor is log2 b = -5 (the encoder's default since 2026-12-07):
 * the last test checks that such a file codes most zeros below the base set's floor, in fewer
 * bits than the same latents would take without the flag.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import { defaultArch } from '../src/profiles/perimage/types.js';
import { canvasMask, LOG2B_MIN_BASE, LOG2B_MIN_FINE, makeLayout } from '../src/profiles/perimage/encoder/model.js';
import { LOG2B_MAX, PerImageNet } from '../src/profiles/perimage/encoder/forward.js';
import { ensureGradients } from '../src/profiles/perimage/encoder/grads.js';
import { latentBits } from '../src/profiles/perimage/encoder/train.js';
import { encodePerImage } from '../src/profiles/perimage/encoder/index.js';
import { latentSymbolsRef, NS, S_BASE } from '../src/profiles/perimage/reference.js';
import { createPerImageCore } from '../src/profiles/perimage/core.js';
import { sampleCrop } from './refine-helpers.js';

const arch = defaultArch();
const lay = makeLayout(arch, 24, 16);
/** the same layout for a file with FINE_SCALES: floor LOG2B_MIN_FINE */
const layFine = makeLayout(arch, 24, 16, true);
const mask = canvasMask(lay);
/** index in theta of the ARM output layer's log2 b bias (output W and b are the ARM's last tensors) */
const lsBias = lay.offsets[2 * arch.D + 1] + 1;

/** d bits / d (log2 b bias) with the ARM output weights 0: every position gets log2 b = `ls` */
async function lsBiasGrad(ls: number, q: (i: number) => number, l = lay): Promise<number> {
  await initBackend('wasm');
  ensureGradients();
  const th = new Float32Array(lay.nTheta);
  th[lsBias] = ls;
  const canvas = Float32Array.from(mask, (m, i) => m * q(i));
  const net = new PerImageNet(l);
  const maskT = tf.tensor4d(mask, [1, lay.Hc, lay.Wc, 1]);
  try {
    const g = tf.tidy(() => tf.grad((t: tf.Tensor) => latentBits(net, t as tf.Tensor1D, tf.tensor4d(canvas, [1, lay.Hc, lay.Wc, 1]), maskT))(tf.tensor1d(th)));
    const v = (await g.data())[lsBias];
    g.dispose();
    return v;
  } finally {
    net.dispose();
    maskT.dispose();
  }
}

describe('the log2 b clamp of the ARM passes the gradient that points back into the range', () => {
  it('below the floor: nonzero latents pull log2 b up (a wider Laplace), and that gradient passes', async () => {
    // every 5th latent is 3: a wider scale would code them in fewer bits
    const g = await lsBiasGrad(LOG2B_MIN_BASE - 3, (i) => (i % 5 === 0 ? 3 : 0));
    expect(g).toBeLessThan(-1);
  });

  it('below the floor: all-zero latents push log2 b further down, and that gradient stops', async () => {
    expect(await lsBiasGrad(LOG2B_MIN_BASE - 3, () => 0)).toBe(0);
  });

  it('above the ceiling: all-zero latents pull log2 b down, and that gradient passes', async () => {
    expect(await lsBiasGrad(LOG2B_MAX + 2, () => 0)).toBeGreaterThan(0);
  });

  it('the floor follows the file: with FINE_SCALES it is log2 b = -5, and -4 is inside the range', async () => {
    expect(layFine.log2bMin).toBe(LOG2B_MIN_FINE);
    expect(LOG2B_MIN_FINE).toBe(-5);
    expect(await lsBiasGrad(-4, () => 0)).toBe(0);
    expect(await lsBiasGrad(-4, () => 0, layFine)).toBeGreaterThan(0);
    expect(await lsBiasGrad(LOG2B_MIN_FINE - 1, () => 0, layFine)).toBe(0);
  });

  it('inside the range the gradient is the plain one', async () => {
    const inside = await lsBiasGrad(0, (i) => (i % 5 === 0 ? 3 : 0));
    expect(inside).not.toBe(0);
  });

  it('in a coded file the context model uses more than the narrowest scale', async () => {
    const S = 64;
    const data = await sampleCrop(S, S, 200, 100);
    // the base scale set, where this was measured (its floor: log2 b = -3, s = S_BASE)
    const r = await encodePerImage({ width: S, height: S, data }, { quality: 4, lambda: 1.5e-3, steps: 400, backend: 'wasm', fineScales: false, arch: defaultArch() });
    const { v, t } = latentSymbolsRef(r.params, r.grids, S, S);
    let atFloor = 0, nonzero = 0, nonzeroAtFloor = 0;
    for (let i = 0; i < t.length; i++) {
      const s = t[i] % NS; // table t = f * NS + s (SPEC §1)
      if (s === S_BASE) atFloor++;
      if (v[i] !== 0) {
        nonzero++;
        if (s === S_BASE) nonzeroAtFloor++;
      }
    }
    // with the plain clamp's gradient: 100% and 100% (measured on this crop)
    expect(nonzero).toBeGreaterThan(50);
    expect(atFloor / t.length).toBeLessThan(0.95); // 0.88 with the fix
    expect(nonzeroAtFloor / nonzero).toBeLessThan(0.5); // 0.14 with the fix
  }, 180_000);

  it('with FINE_SCALES (the default) the same latents cost fewer bits: zeros below the base floor', async () => {
    const S = 64;
    const data = await sampleCrop(S, S, 200, 100);
    const r = await encodePerImage({ width: S, height: S, data }, { quality: 4, lambda: 1.5e-3, steps: 400, backend: 'wasm', arch: defaultArch() });
    expect(r.params.fineScales).toBe(true);
    const { v, t } = latentSymbolsRef(r.params, r.grids, S, S);
    let zeros = 0, zerosFine = 0;
    for (let i = 0; i < t.length; i++) {
      if (v[i] !== 0) continue;
      zeros++;
      if (t[i] % NS < S_BASE) zerosFine++;
    }
    expect(zeros).toBeGreaterThan(t.length / 2);
    expect(zerosFine / zeros).toBeGreaterThan(0.5);
    // the same model and integers coded with the base set (what the file would be without the flag)
    const core = await createPerImageCore();
    const fine = core.latentBits(r.params, r.grids, S, S).total;
    const base = core.latentBits({ ...r.params, fineScales: false }, r.grids, S, S).total;
    expect(fine).toBeLessThan(0.95 * base);
  }, 180_000);
}, 60_000);
