/**
 * Best of K starts (src/profiles/perimage/encoder/starts.ts) on tfjs WASM, 24x16 crop of the
 * sample photo: the warm-up picks the candidate with the lowest final loss; the full run then
 * trains from exactly that candidate's initialisation with the caller's noise; one choice
 * serves every member of a batched encode; bad counts are a NimgError.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { encodePerImage, encodePerImageMembers } from '../src/profiles/perimage/encoder/index.js';
import { chooseArch } from '../src/profiles/perimage/encoder/arch-choice.js';
import { initTheta, makeLayout } from '../src/profiles/perimage/encoder/model.js';
import { DEFAULT_TRAIN, rgbaToRows, train } from '../src/profiles/perimage/encoder/train.js';
import { chooseStart, MAX_STARTS, warmupSteps } from '../src/profiles/perimage/encoder/starts.js';
import { ensureGradients } from '../src/profiles/perimage/encoder/grads.js';
import { sampleCrop } from './refine-helpers.js';

const W = 24, H = 16, STEPS = 48;
let rgba: Uint8ClampedArray;
beforeAll(async () => {
  await initBackend('wasm');
  ensureGradients();
  rgba = await sampleCrop(W, H, 300, 140);
});
const meanOf = (x: Float32Array) => [0, 1, 2].map((c) => {
  let s = 0;
  for (let i = c; i < x.length; i += 3) s += x[i];
  return s / (W * H);
});

describe('perimage encoder: best of K starts', () => {
  it('the warm-up keeps the candidate with the lowest final loss', async () => {
    const lambda = 1e-3;
    const lay = makeLayout(chooseArch(W * H, lambda), W, H, true);
    const x = rgbaToRows(rgba, W, H);
    const c = await chooseStart(lay, x, meanOf(x), 0.01, 3, { ...DEFAULT_TRAIN, steps: STEPS, lambda, seed: 5 });
    expect(c.losses).toHaveLength(3);
    expect(c.losses.every(Number.isFinite)).toBe(true);
    const k = c.losses.indexOf(Math.min(...c.losses));
    expect(c.seed).toBe(5 + k);
    expect(c.theta0).toEqual(initTheta(lay, 5 + k, meanOf(x), 0.01));
    // the candidates really differ (else the choice means nothing)
    expect(new Set(c.losses).size).toBe(3);
    expect(warmupSteps(STEPS)).toBe(6);
    expect(warmupSteps(3)).toBe(1);
  }, 120_000);

  it('encodes from the chosen start with the caller\'s noise; starts = 1 is the seed\'s start', async () => {
    const img = { width: W, height: H, data: rgba };
    const lambda = 1e-3;
    const r = await encodePerImage(img, { quality: 4, lambda, steps: STEPS, backend: 'wasm', starts: 3, seed: 4 });
    expect(r.stats.starts).toBe(3);
    const lay = makeLayout(chooseArch(W * H, lambda), W, H, true);
    const x = rgbaToRows(rgba, W, H);
    const c = await chooseStart(lay, x, meanOf(x), 0.01, 3, { ...DEFAULT_TRAIN, steps: STEPS, lambda, seed: 4 });
    expect(r.stats.initSeed).toBe(c.seed);
    // on this crop the winner is not candidate 0 (the seed's own start; losses ~7% apart),
    // so the encode below must have moved to another start to match
    expect(c.seed).not.toBe(4);
    // the full run: the winner's initialisation, the noise of seed 4
    const st = await train(lay, x, initTheta(lay, c.seed, meanOf(x)), new Float32Array(lay.Hc * lay.Wc), { ...DEFAULT_TRAIN, steps: STEPS, lambda, seed: 4 });
    expect(r.stats.history.map((h) => h.loss)).toEqual(st.history.map((h) => h.loss));
    const one = await encodePerImage(img, { quality: 4, lambda, steps: STEPS, backend: 'wasm', seed: 4 });
    expect(one.stats).toMatchObject({ starts: 1, initSeed: 4 });
    expect(one.stats.history.map((h) => h.loss)).not.toEqual(st.history.map((h) => h.loss));
  }, 180_000);

  it('chooses once for all members of a batched encode', async () => {
    const rs = await encodePerImageMembers({ width: W, height: H, data: rgba }, { quality: 4, lambdas: [3e-3, 1e-3, 3e-4], steps: STEPS, backend: 'wasm', starts: 2, arch: chooseArch(W * H, 1e-3) });
    expect(new Set(rs.map((r) => r.stats.initSeed)).size).toBe(1);
    expect(rs.every((r) => r.stats.starts === 2)).toBe(true);
  }, 180_000);

  it('refuses a count outside 1 … MAX_STARTS with BAD_INPUT', async () => {
    const img = { width: 8, height: 8, data: new Uint8Array(256).fill(128) };
    for (const starts of [0, 1.5, MAX_STARTS + 1, Number.NaN]) {
      await expect(encodePerImage(img, { quality: 4, steps: 1, backend: 'wasm', starts })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    }
  });
});
