/**
 * Per-image encoder step cost: ms/step and tfjs kernels (≈ dispatches) per step.
 *   npx tsx bench/perimage-speed.ts [W] [H] [steps] [backend] [ref] [members] [arch: default|compact]
 * Kernels per step = (kernels of a steps+2 run − kernels of a 2-step run) / steps, from
 * tf.profile; ms/step likewise from the difference of two timed runs (setup excluded).
 * On webgpu also dispatchesPerStep: every runWebGPUProgram call (tfjs kernels and the
 * project's own programs; Reshape/Identity and kernels tfjs runs on the CPU dispatch
 * nothing, custom programs do not go through the engine's kernel count).
 * ref: comma-separated fused WebGPU parts to run as tfjs ops instead (A/B; default none):
 *   up2 (up2-gpu.ts's chain), synth (synth-gpu.ts's synthesis + MSE), arm (arm-gpu.ts's ARM + rate).
 * members: K > 1 trains K members (λ values) of the image at once with trainBatch
 *   (train-batch.ts; batched on WebGPU, a loop over train() elsewhere); default 1 (train()).
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import { archOfName } from '../src/profiles/perimage/encoder/arch-choice.js';
import { initTheta, makeLayout } from '../src/profiles/perimage/encoder/model.js';
import { DEFAULT_TRAIN, rgbaToRows, train } from '../src/profiles/perimage/encoder/train.js';
import { trainBatch } from '../src/profiles/perimage/encoder/train-batch.js';
import { setFusedUp2 } from '../src/profiles/perimage/encoder/up2-gpu.js';
import { setFusedSynth } from '../src/profiles/perimage/encoder/synth-gpu.js';
import { setFusedArm } from '../src/profiles/perimage/encoder/arm-gpu.js';

const W = +(process.argv[2] ?? 64), H = +(process.argv[3] ?? 48), steps = +(process.argv[4] ?? 20);
const backend = await initBackend((process.argv[5] ?? 'wasm') as 'wasm');
const members = +(process.argv[7] ?? 1);
const ref = (process.argv[6] ?? '').split(',').filter((x) => x && x !== 'none');
const SWITCHES: Record<string, (on: boolean) => void> = { up2: setFusedUp2, synth: setFusedSynth, arm: setFusedArm };
for (const part of ref) {
  if (!SWITCHES[part]) throw new Error(`ref: unknown part ${part} (${Object.keys(SWITCHES).join(', ')})`);
  SWITCHES[part](false);
}
const data = new Uint8ClampedArray(W * H * 4).map((_, i) => (i * 37 + ((i >> 9) * 11)) & 255);
const lay = makeLayout(archOfName(process.argv[8] === 'compact' ? 'compact' : 'default'), W, H);
const x = rgbaToRows(data, W, H);
const run = async (n: number) => {
  const t0 = performance.now();
  if (members > 1) {
    const lambdas = Array.from({ length: members }, (_, k) => 1e-3 * 2 ** k);
    await trainBatch(lay, x, lambdas.map(() => initTheta(lay, 1, [0.5, 0.5, 0.5])), lambdas.map(() => new Float32Array(lay.Hc * lay.Wc)), { ...DEFAULT_TRAIN, steps: n, lambdas, progressEvery: 1e9 });
    return performance.now() - t0;
  }
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
// GPU programs actually dispatched (webgpu only)
let dispatches = 0;
const progs = new Map<string, number>();
const be = tf.backend() as unknown as { runWebGPUProgram?: (...a: unknown[]) => unknown };
if (backend === 'webgpu' && be.runWebGPUProgram) {
  const origRun = be.runWebGPUProgram.bind(be);
  be.runWebGPUProgram = (...a: unknown[]) => {
    if (counting) {
      dispatches++;
      const prog = a[0] as { constructor?: { name?: string }; shaderKey?: string };
      const name = prog.constructor?.name && prog.constructor.name !== 'Object' ? prog.constructor.name : String(prog.shaderKey ?? '?').slice(0, 24);
      progs.set(name, (progs.get(name) ?? 0) + 1);
    }
    return origRun(...a);
  };
}
const countRun = async (n: number) => {
  counts.clear();
  progs.clear();
  dispatches = 0;
  counting = true;
  await run(n);
  counting = false;
  return { k: new Map(counts), d: dispatches, p: new Map(progs) };
};
const { k: ca, d: da, p: pa } = await countRun(2);
const { k: cb, d: db, p: pb } = await countRun(steps + 2);
const perProg = [...pb].map(([n, c]) => [n, (c - (pa.get(n) ?? 0)) / steps] as const).filter(([, c]) => c > 0).sort((a, b) => b[1] - a[1]);
const per = new Map<string, number>();
for (const [k, v] of cb) per.set(k, (v - (ca.get(k) ?? 0)) / steps);
const total = [...per.values()].reduce((a, b) => a + b, 0);
console.log(JSON.stringify({
  backend, W, H, steps, ref, members, msPerStep: +((tB - tA) / steps).toFixed(2),
  kernelsPerStep: total, kernelsPerStepNoReshape: total - (per.get('Reshape') ?? 0),
  ...(backend === 'webgpu' ? { dispatchesPerStep: (db - da) / steps, programs: perProg.map(([n, c]) => `${n}:${c}`).join(' ') } : {}),
  top: [...per].sort((a, b) => b[1] - a[1]).slice(0, 14).map(([n, c]) => `${n}:${c}`).join(' '),
}));
