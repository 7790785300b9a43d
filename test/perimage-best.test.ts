/**
 * Phase 2's best parameters (src/profiles/perimage/encoder/best.ts) on tfjs WASM:
 * - BestOfPhase2 keeps, member by member, the parameters of the lowest loss offered;
 * - train() ends with them: with a phase 2 made destructive on purpose (a huge step size),
 *   the returned parameters' rounded loss is that of the best offer, below the last
 *   parameters' (what train() returned before), and no worse than at the switch;
 * - bestEvery 0 returns the last parameters (the old behaviour), and the phases before the
 *   switch are untouched by the bookkeeping (the same history).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import { BestOfPhase2 } from '../src/profiles/perimage/encoder/best.js';
import { ensureGradients } from '../src/profiles/perimage/encoder/grads.js';
import { initTheta, makeLayout } from '../src/profiles/perimage/encoder/model.js';
import { DEFAULT_TRAIN, evaluateRounded, rgbaToRows, scheduleAt, train } from '../src/profiles/perimage/encoder/train.js';
import { defaultArch } from '../src/profiles/perimage/types.js';
import { sampleCrop } from './refine-helpers.js';

beforeAll(async () => {
  await initBackend('wasm');
  ensureGradients();
});

describe('BestOfPhase2', () => {
  const offer = (b: BestOfPhase2, th: number[], lat: number[], loss: number[]) =>
    b.offer(tf.tensor1d(th), tf.tensor4d(lat, [2, 1, 2, 1]), loss);

  it('keeps each member\'s lowest-loss parameters', async () => {
    const before = tf.memory().numTensors;
    const b = new BestOfPhase2(2);
    expect(await b.read()).toBeNull();
    offer(b, [1, 1, 2, 2], [1, 1, 2, 2], [5, 5]);
    offer(b, [3, 3, 4, 4], [3, 3, 4, 4], [4, 6]); // member 0 better, member 1 worse
    offer(b, [5, 5, 6, 6], [5, 5, 6, 6], [4, 7]); // ties are not improvements
    offer(b, [7, 7, 8, 8], [7, 7, 8, 8], [9, 1]); // member 1 better
    const [th, lat] = (await b.read())!;
    expect(Array.from(th)).toEqual([3, 3, 8, 8]);
    expect(Array.from(lat)).toEqual([3, 3, 8, 8]);
    expect(Array.from(b.losses())).toEqual([4, 1]);
    b.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('train() ends with phase 2\'s best', () => {
  const W = 32;
  const H = 24;
  let rgba: Uint8ClampedArray;
  beforeAll(async () => {
    rgba = await sampleCrop(W, H, 100, 60);
  });

  it('schedule: offers at the switch and every bestEvery steps of phase 2 only, on the progress grid', () => {
    const st = { ...DEFAULT_TRAIN, noiseFrac: 0.5, bestEvery: 4 };
    const offers = Array.from({ length: 20 }, (_, t) => scheduleAt(t, 20, st, 1, -3).offer);
    expect(offers.flatMap((o, t) => (o ? [t] : []))).toEqual([10, 11, 15, 19]);
    // with bestEvery = progressEvery, every offer after the switch falls on a progress readback (t + 1) % progressEvery = 0
    const d = { ...DEFAULT_TRAIN, noiseFrac: 0.75 };
    const late = Array.from({ length: 8000 }, (_, t) => t).filter((t) => t > 6000 && scheduleAt(t, 8000, d, 1, -3).offer);
    expect(late.length).toBe(40);
    expect(late.every((t) => (t + 1) % d.progressEvery === 0)).toBe(true);
    expect(Array.from({ length: 20 }, (_, t) => scheduleAt(t, 20, { ...st, bestEvery: 0 }, 1, -3).offer).some(Boolean)).toBe(false);
  });

  it('a destructive phase 2: the best offer is returned, not the last parameters', async () => {
    const lay = makeLayout(defaultArch(), W, H);
    const x = rgbaToRows(rgba, W, H);
    const lambda = 2e-3;
    // phase 2 at 30x phase 1's step size: the straight-through steps throw the model off
    const base = { ...DEFAULT_TRAIN, steps: 60, lambda, noiseFrac: 0.5, steLrScale: 30, progressEvery: 1 };
    const theta0 = initTheta(lay, 1, [0.5, 0.5, 0.5]);
    const canvas0 = new Float32Array(lay.Hc * lay.Wc);
    const last = await train(lay, x, theta0, canvas0, { ...base, bestEvery: 0 });
    const kept = await train(lay, x, theta0, canvas0, { ...base, bestEvery: 5 });
    // the same run up to the end: the bookkeeping changes nothing of the training itself
    expect(kept.history).toEqual(last.history);
    const lossLast = (await evaluateRounded(lay, x, last.theta, last.canvas, lambda)).loss;
    const lossKept = (await evaluateRounded(lay, x, kept.theta, kept.canvas, lambda)).loss;
    // phase 2's losses (the parameters each step started from, rounded latents)
    const ph2 = kept.history.filter((h) => h.phase === 'ste');
    const atSwitch = ph2[0].loss;
    const offered = ph2.filter((h, i) => i === 0 || h.step % 5 === 0).map((h) => h.loss);
    expect(lossLast).toBeGreaterThan(atSwitch); // the setting is destructive indeed
    expect(lossKept).toBeLessThan(lossLast);
    expect(lossKept).toBeLessThanOrEqual(atSwitch * (1 + 1e-5));
    expect(lossKept).toBeCloseTo(Math.min(...offered, lossLast), 6);
  }, 120_000);
});
