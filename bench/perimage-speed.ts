/**
 * Per-image encoder step cost: ms/step and tfjs kernels (≈ dispatches) per step.
 *   npx tsx bench/perimage-speed.ts [W] [H] [steps] [backend]
 * Kernels per step = (kernels of a steps+2 run − kernels of a 2-step run) / steps, from
 * tf.profile; ms/step likewise from the difference of two timed runs (setup excluded).
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import { defaultArch } from '../src/profiles/perimage/types.js';
import { initTheta, makeLayout } from '../src/profiles/perimage/encoder/model.js';
import { DEFAULT_TRAIN, rgbaToRows, train } from '../src/profiles/perimage/encoder/train.js';

const W = +(process.argv[2] ?? 64), H = +(process.argv[3] ?? 48), steps = +(process.argv[4] ?? 20);
const backend = await initBackend((process.argv[5] ?? 'wasm') as 'wasm');
const data = new Uint8ClampedArray(W * H * 4).map((_, i) => (i * 37 + ((i >> 9) * 11)) & 255);
const lay = makeLayout(defaultArch(), W, H);
const x = rgbaToRows(data, W, H);
const run = async (n: number) => {
  const t0 = performance.now();
  await train(lay, x, initTheta(lay, 1, [0.5, 0.5, 0.5]), new Float32Array(lay.Hc * lay.Wc), { ...DEFAULT_TRAIN, steps: n, lambda: 1e-3, progressEvery: 1e9 });
  return performance.now() - t0;
};
await run(2); // warm-up: shader compilation, WASM init
const tA = await run(2);
const tB = await run(steps + 2);
// kernels launched through the engine (what tf.profile lists; reshape is free on WebGPU)
const eng = tf.engine() as unknown as { runKernel: (name: string, ...a: unknown[]) => unknown };
const orig = eng.runKernel.bind(eng);
const counts = new Map<string, number>();
let counting = false;
eng.runKernel = (name: string, ...a: unknown[]) => {
  if (counting) counts.set(name, (counts.get(name) ?? 0) + 1);
  return orig(name, ...a);
};
const countRun = async (n: number) => {
  counts.clear();
  counting = true;
  await run(n);
  counting = false;
  return new Map(counts);
};
const ca = await countRun(2);
const cb = await countRun(steps + 2);
const per = new Map<string, number>();
for (const [k, v] of cb) per.set(k, (v - (ca.get(k) ?? 0)) / steps);
const total = [...per.values()].reduce((a, b) => a + b, 0);
console.log(JSON.stringify({
  backend, W, H, steps, msPerStep: +((tB - tA) / steps).toFixed(2),
  kernelsPerStep: total, kernelsPerStepNoReshape: total - (per.get('Reshape') ?? 0),
  top: [...per].sort((a, b) => b[1] - a[1]).slice(0, 14).map(([n, c]) => `${n}:${c}`).join(' '),
}));
