/**
 * Speed probe for the float transforms.
 *
 *   npx tsx src/model/probe-speed.ts [--size 768x512] [--threads 1,2] [--reps 3]
 *                                    [--backend wasm] [--tile 512] [--weights path.json]
 *                                    [--arch 192,320,128]   (random N,M,Nz: what a bigger model would cost)
 *
 * 1. Peak: the backend's own conv2d GFLOP/s on a large, GEMM-friendly conv (3x3, 256→256
 *    on 64x96, NHWC), best of a few runs, one thread.
 * 2. The transforms (g_a on WxH pixels, h_a and g_s on its latent) with random N=128,
 *    M=192, Nz=128 weights (or real weights), for each thread count: ms, GFLOP/s from the
 *    analytic MAC count (1 MAC = 2 FLOP, halo overhead not counted), and the fraction of
 *    the single-thread peak.
 *
 * Also importable: `measurePeakConvGflops()`, `randomModelWeights()`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend/index.js';
import { createTransforms } from './transforms.js';
import { netMacs } from './net.js';
import type { BackendChoice, ModelWeights, TensorEntry, WeightsManifest } from './types.js';

/** Peak conv2d throughput of the active tfjs backend, GFLOP/s. */
export async function measurePeakConvGflops(reps = 4): Promise<{ gflops: number; ms: number; shape: string }> {
  const H = 64, W = 96, C = 256, K = 3;
  const x = tf.randomNormal([1, H, W, C]) as tf.Tensor4D;
  const w = tf.randomNormal([K, K, C, C], 0, 0.02) as tf.Tensor4D;
  const flop = 2 * H * W * C * C * K * K;
  let best = Infinity;
  for (let i = 0; i < reps + 1; i++) {
    const t0 = performance.now();
    const y = tf.conv2d(x, w, 1, 1);
    await y.data();
    const ms = performance.now() - t0;
    y.dispose();
    if (i > 0) best = Math.min(best, ms); // first run warms up
  }
  x.dispose();
  w.dispose();
  return { gflops: flop / best / 1e6, ms: best, shape: `conv3x3 ${C}->${C} on ${W}x${H}` };
}

/** A random float weight set (no h_s / entropy tables): enough for the transforms. */
export function randomModelWeights(arch = { N: 128, M: 192, Nz: 128 }, seed = 1): ModelWeights {
  let s = seed >>> 0 || 1;
  const rnd = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  const tensors = new Map<string, TensorEntry>();
  const add = (name: string, shape: number[], f: () => number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const d = new Float32Array(n);
    for (let i = 0; i < n; i++) d[i] = f();
    tensors.set(name, { dtype: 'float32', shape, data: d });
  };
  const conv = (name: string, i: number, o: number, k: number) => {
    const a = Math.sqrt(3 / (i * k * k));
    add(`${name}.w`, [o, i, k, k], () => (2 * rnd() - 1) * a);
    add(`${name}.b`, [o], () => 0.01 * (rnd() - 0.5));
  };
  const gdn = (name: string, C: number) => {
    add(`${name}.beta`, [C], () => 1);
    let k = 0;
    add(`${name}.gamma`, [C, C], () => (k++ % (C + 1) === 0 ? 0.1 : 0.001 * rnd()));
  };
  const { N, M, Nz } = arch;
  conv('ga.0', 3, N, 5); gdn('ga.0.gdn', N); conv('ga.1', N, N, 5); gdn('ga.1.gdn', N);
  conv('ga.2', N, N, 5); gdn('ga.2.gdn', N); conv('ga.3', N, M, 5);
  conv('ha.0', M, N, 3); conv('ha.1', N, N, 5); conv('ha.2', N, Nz, 5);
  conv('gs.0', M, 4 * N, 3); gdn('gs.0.igdn', N); conv('gs.1', N, 4 * N, 3); gdn('gs.1.igdn', N);
  conv('gs.2', N, 4 * N, 3); gdn('gs.2.igdn', N); conv('gs.3', N, 12, 3);
  const manifest: WeightsManifest = {
    format: 'nimg-weights', version: 1, model_id: 'probe', sha256: '0'.repeat(64),
    arch: { N, M, Nz, hs_hidden: [96, 64], stride: 64 },
    quality: { levels: 8, lambdas: [] },
    entropy: { precision: 16, mean_frac_bits: 4, num_scales: 64, scales: [] },
    tensors: {},
  };
  return { manifest, hash: '0'.repeat(16), tensors };
}

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : def;
}

async function main(): Promise<void> {
  const [W, H] = arg('size', '768x512').split('x').map(Number);
  const threadList = arg('threads', '1,2').split(',').map(Number);
  const reps = Number(arg('reps', '3'));
  const backend = arg('backend', 'wasm') as BackendChoice;
  const tile = arg('tile', '');
  const wpath = arg('weights', '');
  const [aN, aM, aNz] = arg('arch', '128,192,128').split(',').map(Number);
  const weights = wpath
    ? await (await import('./node-weights.js')).loadWeightsFromFile(wpath)
    : randomModelWeights({ N: aN, M: aM, Nz: aNz });
  const arch = weights.manifest.arch;

  const name = await initBackend(backend);
  const peak = await measurePeakConvGflops();
  console.log(`backend ${name}; peak ${peak.shape}: ${peak.gflops.toFixed(1)} GFLOP/s (${peak.ms.toFixed(1)} ms)`);
  console.log(`model N=${arch.N} M=${arch.M} Nz=${arch.Nz}; image ${W}x${H}`);

  const x = new Float32Array(3 * H * W);
  for (let i = 0; i < x.length; i++) x[i] = 0.5 + 0.4 * Math.sin(i * 0.001) * Math.cos(i * 0.37);
  const h = H / 16, w = W / 16;
  const gf = {
    analysis: (2 * netMacs(arch, 'analysis', H, W)) / 1e9,
    hyper: (2 * netMacs(arch, 'hyper', h, w)) / 1e9,
    synthesis: (2 * netMacs(arch, 'synthesis', h, w)) / 1e9,
  };
  console.log(`work: analysis ${gf.analysis.toFixed(1)} GFLOP, hyper ${gf.hyper.toFixed(2)} GFLOP, synthesis ${gf.synthesis.toFixed(1)} GFLOP`);

  for (const threads of threadList) {
    const t0 = performance.now();
    const t = await createTransforms(weights, { backend: name, threads, ...(tile ? { tileSize: tile === 'inf' ? Infinity : Number(tile) } : {}) });
    await t.ready();
    const init = performance.now() - t0;
    const best = { analysis: Infinity, hyper: Infinity, synthesis: Infinity };
    for (let r = 0; r < reps; r++) {
      let s = performance.now();
      const y = await t.analysis(x, H, W);
      best.analysis = Math.min(best.analysis, performance.now() - s);
      s = performance.now();
      await t.hyperAnalysis(y, h, w);
      best.hyper = Math.min(best.hyper, performance.now() - s);
      s = performance.now();
      await t.synthesis(y, h, w);
      best.synthesis = Math.min(best.synthesis, performance.now() - s);
    }
    const line = (k: keyof typeof best) => {
      const g = gf[k] / (best[k] / 1000);
      return `${k} ${best[k].toFixed(0)} ms = ${g.toFixed(1)} GFLOP/s (${((100 * g) / peak.gflops).toFixed(0)}% of 1-thread peak)`;
    };
    console.log(`threads ${t.threads} (tile ${t.tileSize}, init ${init.toFixed(0)} ms): ${line('analysis')}; ${line('hyper')}; ${line('synthesis')}`);
    t.dispose();
  }
}

const isMain = typeof process !== 'undefined' && process.argv[1] && /probe-speed\.[cm]?[jt]s$/.test(process.argv[1]);
if (isMain) {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
