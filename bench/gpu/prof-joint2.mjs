// Device-side: does the joint phase slow down over repeated calls or with the quality?
import { readFileSync } from 'node:fs';
const A = process.cwd() + '/.gpu/app/src/';
const tf = await import(process.cwd() + '/.gpu/node_modules/@tensorflow/tfjs-core/dist/tf-core.node.js');
const { NimgCodec } = await import(A + 'codec.js');
const { decodeImageFile } = await import(A + 'image/index.js');
const codec = await NimgCodec.create({ backend: 'webgpu' });
const img = await decodeImageFile(new Uint8Array(readFileSync('.gpu/kodak/kodim01.png')));
const T0 = performance.now();
for (let i = 0; i < 40 && performance.now() - T0 < 200000; i++) {
  const q = [1, 7, 1, 7, 4][i % 5];
  const stats = {};
  const t0 = performance.now();
  await codec.encode(img, { quality: q, refine: Number(process.env.R ?? 30), stats });
  const m = tf.memory();
  const mu = process.memoryUsage();
  console.log(`#${i} q${q} ${(performance.now() - t0).toFixed(0)} ms refine ${stats.refineMs.toFixed(0)} | tensors ${m.numTensors} bytes ${(m.numBytes / 1e6).toFixed(0)}MB gpu ${((m.numBytesInGPU ?? 0) / 1e6).toFixed(0)}MB alloc ${((m.numBytesInGPUAllocated ?? 0) / 1e6).toFixed(0)}MB | rss ${(mu.rss / 1e6).toFixed(0)}MB heap ${(mu.heapUsed / 1e6).toFixed(0)}MB`);
}
