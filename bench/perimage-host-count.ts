/**
 * Host-side work of one per-image training step on WebGPU, counted (not timed): the GPU
 * buffers created, queue submissions, GPU programs dispatched and tensors uploaded from the
 * CPU per step, as the difference between runs of N and 2N steps (set-up and read-back
 * cancel). Counts carry over to any adapter (SwiftShader here), unlike times; the H100's CPU
 * profile (bench/results/perimage-gpu/NOTES.md) shows buffer creation and queue submission
 * among the largest host costs of the step.
 *
 *   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json npx tsx bench/perimage-host-count.ts [--w 24] [--h 16] [--steps 4] [--members 1] [--submit-batch 15]
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import { defaultArch } from '../src/profiles/perimage/types.js';
import { makeLayout } from '../src/profiles/perimage/encoder/model.js';
import { runSteps } from './perimage-steps.js';
import { opt } from './args.js';

const W = +opt('w', '24'), H = +opt('h', '16'), N = +opt('steps', '4'), K = +opt('members', '1');
await initBackend('webgpu');
if (tf.getBackend() !== 'webgpu') throw new Error('needs a WebGPU adapter (VK_ICD_FILENAMES for SwiftShader)');
tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', +opt('submit-batch', '15'));

// count calls by wrapping the backend's device, queue and program runner
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const be = tf.backend() as any;
const counts = { createBuffer: 0, submit: 0, dispatch: 0, upload: 0, uploadBytes: 0 };
const wrap = (obj: Record<string, unknown>, name: string, f: (...a: unknown[]) => void) => {
  const orig = (obj[name] as (...a: unknown[]) => unknown).bind(obj);
  obj[name] = (...a: unknown[]) => { f(...a); return orig(...a); };
};
wrap(be.device, 'createBuffer', () => { counts.createBuffer++; });
wrap(be.queue, 'submit', () => { counts.submit++; });
wrap(be, 'runWebGPUProgram', () => { counts.dispatch++; });
wrap(be, 'uploadToGPU', (dataId: unknown) => {
  const d = be.tensorMap.get(dataId);
  if (d?.values && !d.resource) { counts.upload++; counts.uploadBytes += d.values.byteLength ?? 0; }
});

const lay = makeLayout(defaultArch(), W, H);
const x = new Float32Array(W * H * 3).map((_, i) => ((i * 37) % 255) / 255);
const run = (n: number) => runSteps(lay, x, K, n);
const snap = async (n: number) => {
  const c0 = { ...counts };
  await run(n);
  return Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v - c0[k as keyof typeof c0]])) as typeof counts;
};
await run(N); // warm-up: compiles, fills the buffer pools
const a = await snap(N), b = await snap(2 * N);
const perStep = Object.fromEntries(Object.entries(b).map(([k, v]) => [k, +((v - a[k as keyof typeof a]) / N).toFixed(2)]));
console.log(JSON.stringify({ W, H, members: K, submitBatch: tf.env().getNumber('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE'), perStep }));
