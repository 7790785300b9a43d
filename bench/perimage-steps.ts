/**
 * n training steps of the per-image encoder from a fresh start, for the benches that time or
 * count steps (perimage-gpu.ts speed, perimage-host-count.ts): one lambda (train) or K lambdas
 * of the same image in one batched step (trainBatch), default training settings.
 */
import type { Layout } from '../src/profiles/perimage/encoder/model.js';
import { initTheta } from '../src/profiles/perimage/encoder/model.js';
import { DEFAULT_TRAIN, train } from '../src/profiles/perimage/encoder/train.js';
import { trainBatch } from '../src/profiles/perimage/encoder/train-batch.js';

/** REQUIRES: x = rgbaToRows of a lay.width x lay.height image; members >= 1; steps >= 1 */
export async function runSteps(lay: Layout, x: Float32Array, members: number, steps: number): Promise<void> {
  const theta = () => initTheta(lay, 1, [0.5, 0.5, 0.5]), canvas = () => new Float32Array(lay.Hc * lay.Wc);
  if (members === 1) {
    await train(lay, x, theta(), canvas(), { ...DEFAULT_TRAIN, steps, lambda: 1e-3 });
    return;
  }
  const lambdas = Array.from({ length: members }, (_, k) => 1e-3 * 2 ** k);
  await trainBatch(lay, x, lambdas.map(theta), lambdas.map(canvas), { ...DEFAULT_TRAIN, steps, lambdas });
}
