/**
 * trainBatch and encodePerImageMembers off WebGPU (tfjs WASM): there they are a loop over
 * train() / the single-member path, member by member (train-batch.ts), so the results must
 * equal separate train() / encodePerImage runs exactly, in member order, with each member's
 * λ (the batching itself is tested on WebGPU in perimage-batch-webgpu.test.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/backend/index.js';
import { defaultArch } from '../src/profiles/perimage/types.js';
import { encodePerImage, encodePerImageMembers } from '../src/profiles/perimage/encoder/index.js';
import { initTheta, makeLayout, prng } from '../src/profiles/perimage/encoder/model.js';
import { DEFAULT_TRAIN, rgbaToRows, train } from '../src/profiles/perimage/encoder/train.js';
import { batchActive, trainBatch } from '../src/profiles/perimage/encoder/train-batch.js';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('trainBatch on wasm (a loop over train())', () => {
  const W = 11;
  const H = 7;
  const r = prng(3);
  const img = { width: W, height: H, data: Uint8ClampedArray.from({ length: W * H * 4 }, () => Math.floor(r() * 256)) };

  it('K members = K train() runs with their λ', async () => {
    const lay = makeLayout(defaultArch(), W, H);
    expect(batchActive(lay)).toBe(false);
    const x = rgbaToRows(img.data, W, H);
    const lambdas = [1e-3, 5e-2];
    const thetas = lambdas.map((_, k) => initTheta(lay, k + 4, [0.5, 0.5, 0.5]));
    const canvases = lambdas.map(() => new Float32Array(lay.Hc * lay.Wc));
    const st = { ...DEFAULT_TRAIN, steps: 3, progressEvery: 1 };
    const seen: number[] = [];
    const bat = await trainBatch(lay, x, thetas, canvases, { ...st, lambdas, onMemberProgress: (k) => seen.push(k) });
    expect(seen).toEqual([0, 0, 0, 1, 1, 1]);
    for (let k = 0; k < lambdas.length; k++) {
      const one = await train(lay, x, thetas[k], canvases[k], { ...st, lambda: lambdas[k] });
      expect(bat[k].theta).toEqual(one.theta);
      expect(bat[k].canvas).toEqual(one.canvas);
      expect(bat[k].history).toEqual(one.history);
    }
    expect(bat[0].theta).not.toEqual(bat[1].theta);
  }, 120_000);

  it('encodePerImageMembers = encodePerImage per λ', async () => {
    const lambdas = [2e-3, 4e-2];
    const res = await encodePerImageMembers(img, { quality: 4, lambdas, steps: 2, backend: 'wasm', seed: 5 });
    expect(res.length).toBe(2);
    for (let k = 0; k < lambdas.length; k++) {
      const one = await encodePerImage(img, { quality: 4, lambda: lambdas[k], steps: 2, backend: 'wasm', seed: 5 });
      expect(res[k].stats.lambda).toBe(lambdas[k]);
      expect(res[k].grids).toEqual(one.grids);
      expect(res[k].params).toEqual(one.params);
    }
  }, 300_000);
});
