/**
 * Per-image encoder smoke run: train a crop of the sample photo and print progress.
 *   LAMBDA=… LR=… LRL=… npx tsx bench/perimage-smoke.ts [W] [H] [steps] [backend]
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import { defaultArch } from '../src/profiles/perimage/types.js';
import { makeLayout, initTheta } from '../src/profiles/perimage/encoder/model.js';
import { train, rgbaToRows, evaluateRounded, DEFAULT_TRAIN } from '../src/profiles/perimage/encoder/train.js';
import { sampleCrop } from '../test/refine-helpers.js';
const W = +(process.argv[2] ?? 32), H = +(process.argv[3] ?? 32), steps = +(process.argv[4] ?? 200);
await initBackend((process.argv[5] as 'wasm') ?? 'wasm');
console.log('backend', tf.getBackend());
const rgba = await sampleCrop(W, H, 100, 100);
const lay = makeLayout(defaultArch(), W, H);
const x = rgbaToRows(rgba, W, H);
const mean = [0, 1, 2].map((c) => { let s = 0; for (let i = 0; i < W * H; i++) s += x[i * 3 + c]; return s / (W * H); });
const th0 = initTheta(lay, 1, mean);
const t0 = performance.now();
const r = await train(lay, x, th0, new Float32Array(lay.Hc * lay.Wc), { ...DEFAULT_TRAIN, steps, lambda: +(process.env.LAMBDA ?? 2.5e-3), lr: +(process.env.LR ?? 1e-2), lrLatent: +(process.env.LRL ?? 1e-2), onProgress: (d, n, i) => console.log(d, i.phase, i.loss.toFixed(5), i.bpp.toFixed(3), i.psnr.toFixed(2)) });
const ms = (performance.now() - t0) / steps;
console.log('ms/step', ms.toFixed(1), 'canvas', lay.Hc, lay.Wc, 'nTheta', lay.nTheta);
console.log(await evaluateRounded(lay, x, r.theta, r.canvas, +(process.env.LAMBDA ?? 2.5e-3)));
