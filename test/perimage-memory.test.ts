/**
 * Memory of repeated per-image encodes in one process (a worker that encodes image after
 * image, as bench/perimage-gpu.ts `jobs` mode does): every encode must leave the tfjs state
 * as it found it — no tensors left behind, and on WebGPU no new compiled pipelines.
 *
 * The WebGPU part (SwiftShader in CI: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json;
 * skipped without an adapter) guards the leak that killed such a worker in its second
 * 1000-step encode with "JavaScript heap out of memory": tfjs-webgpu's runWebGPUProgram
 * rewrites program.shaderKey (key + a suffix) on every run, and the programs the encoder
 * keeps and runs again (members.ts's K-member cache, SynthGpu's) got a longer key each run —
 * a new backend pipelineCache entry (and pipeline compile) every step, the keys' total length
 * growing as steps² and, for the module-level member cache, on across encodes. Tensors were
 * never the leak (their count stayed flat), so the test counts pipelines too.
 *
 * Tiny image and few steps: SwiftShader is slow. The second and third encodes run MORE steps
 * than the first (which compiles every program), so a key that grows with each run shows as
 * new pipelines.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { webgpuAdapter } from './webgpu-helpers.js';
import { initBackend } from '../src/backend/index.js';
import { flatProgram } from '../src/model/gpu-kernels.js';
import { runMembers } from '../src/profiles/perimage/encoder/members.js';
import { encodePerImage, encodePerImageMembers, type PerImageImage } from '../src/profiles/perimage/encoder/index.js';

const adapter = await webgpuAdapter('perimage-memory');

const W = 12;
const H = 8;
const LAMBDAS = [2e-3, 8e-3];

function image(): PerImageImage {
  const data = new Uint8Array(W * H * 4);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 4;
      data[i] = (x * 21 + y * 5) & 255;
      data[i + 1] = (y * 29 + ((x * y) % 7) * 9) & 255;
      data[i + 2] = 255 - ((x * 13 + y * 17) & 255);
      data[i + 3] = 255;
    }
  }
  return { width: W, height: H, data };
}

const tensors = () => {
  const m = tf.memory();
  return { numTensors: m.numTensors, numBytes: m.numBytes };
};

/** the active WebGPU backend's compiled pipelines: count and longest key */
function pipelines(): { count: number; maxKey: number } {
  const cache = (tf.backend() as unknown as { pipelineCache?: Record<string, unknown> }).pipelineCache;
  if (!cache) throw new Error('tfjs-webgpu has no pipelineCache (internals changed: update this test)');
  const keys = Object.keys(cache);
  return { count: keys.length, maxKey: Math.max(0, ...keys.map((k) => k.length)) };
}

/** encodePerImage (with `single`) then encodePerImageMembers (2 members) of the test image with `steps` steps */
async function encode(backend: 'wasm' | 'webgpu', steps: number, single = true): Promise<void> {
  const img = image();
  if (single) {
    const one = await encodePerImage(img, { quality: 4, steps, backend, seed: 3 });
    expect(one.params.tensors.length).toBeGreaterThan(0);
  }
  const many = await encodePerImageMembers(img, { quality: 4, lambdas: LAMBDAS, steps, backend, seed: 3 });
  expect(many).toHaveLength(LAMBDAS.length);
}

describe('perimage encoder memory on wasm', () => {
  it('repeated encodes leave no tensors behind', async () => {
    await initBackend('wasm');
    const before = tensors();
    for (const steps of [3, 5, 5]) {
      await encode('wasm', steps);
      expect(tensors()).toEqual(before);
    }
  });
});

describe.skipIf(!adapter.found)(`perimage encoder memory on webgpu (${adapter.description})`, () => {
  it('a kept program run again keeps its shader key and its one pipeline', async () => {
    await initBackend('webgpu');
    const code = `
      fn main(index : i32) {
        if (index < uniforms.size) { setOutputAtIndex(index, X[index] * 2.0); }
      }`;
    const p = flatProgram('nimg_test_memory_double', ['X'], [8], code);
    const key = p.shaderKey;
    const x1 = tf.range(0, 8, 1, 'float32');
    const x2 = tf.range(0, 16, 1, 'float32');
    const run = async (K: number) => {
      const y = runMembers(p, [K === 1 ? x1 : x2], K);
      const v = await y.data();
      y.dispose();
      return v;
    };
    for (const K of [1, 2]) {
      expect(Array.from(await run(K))).toEqual(Array.from({ length: 8 * K }, (_, i) => 2 * i));
      const n = pipelines().count;
      for (let r = 0; r < 3; r++) await run(K);
      expect(p.shaderKey).toBe(key);
      expect(pipelines().count).toBe(n);
    }
    tf.dispose([x1, x2]);
  });

  it('repeated encodes: tensors flat, no new pipelines, shader keys bounded', async () => {
    await initBackend('webgpu');
    const before = tensors();
    // the first run compiles every program (3 steps: phase 1 and one step of phase 2, whose
    // ARM programs differ when the file's log2 b floor is below phase 1's, FINE_SCALES); then
    // more steps (the third encode without encodePerImage: quantization, ~175 evaluations a
    // member, is most of the time here)
    await encode('webgpu', 3);
    expect(tensors()).toEqual(before);
    const p0 = pipelines();
    for (const [steps, single] of [[3, true], [4, false]] as const) {
      await encode('webgpu', steps, single);
      expect(tensors()).toEqual(before);
      expect(pipelines()).toEqual(p0);
    }
    // a key is a program's name plus tfjs's one suffix: hundreds of characters, not a suffix per run
    expect(p0.maxKey).toBeLessThan(1000);
  });
});
