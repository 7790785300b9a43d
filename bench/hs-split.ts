/**
 * How much of the CPU entropy stage is the integer h_s (WASM core, this machine), per Kodak
 * image: the z and y coding with the core's h_s fused in, h_s alone, and the y coding with
 * an h_s computed elsewhere (encodeLatentHs / decodeLatentHs: what runs on the WebGPU path,
 * where h_s is on the device). Medians of --runs (default 5) per image, then over images.
 *
 *   npx tsx bench/hs-split.ts [--images DIR] [--limit N] [--runs N] [--quality Q]
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import '../src/node/defaults.js'; // init() reads the packaged core and weights
import { NimgCodec, interpolateGain } from '../src/codec.js';
import { createNodeCore } from '../src/core/node-loader.js';
import type { Core } from '../src/core/types.js';
import { latentGeometry, parseContainer } from '../src/format/container.js';
import { decodeImageFile } from '../src/image/index.js';
import { median } from './stats.js';
import { opt } from './args.js';

const dir = path.resolve(opt('images', process.env.NIMG_KODAK ?? path.join('..', 'shared', 'data', 'kodak')));
const limit = Number(opt('limit', '3'));
const runs = Number(opt('runs', '5'));
const quality = Number(opt('quality', '5'));

const core = await createNodeCore();
// capture the gained latent the encoder codes (ys) through a wrapper core
let ys: Float32Array | null = null;
const spy: Core = {
  setModel: (m) => core.setModel(m),
  toPlanar: (...a) => core.toPlanar(...a),
  toRgba: (...a) => core.toRgba(...a),
  hyperSynthesis: (...a) => core.hyperSynthesis(...a),
  quantizeZ: (z) => core.quantizeZ(z),
  quantizeLatent: (y, mu) => {
    ys = y.slice();
    return core.quantizeLatent(y, mu);
  },
  dequantizeLatent: (...a) => core.dequantizeLatent(...a),
  encodeZ: (...a) => core.encodeZ(...a),
  decodeZ: (...a) => core.decodeZ(...a),
  encodeY: (...a) => core.encodeY(...a),
  decodeY: (...a) => core.decodeY(...a),
};
const codec = await NimgCodec.create({ core: spy, backend: 'wasm', threads: 1 });
const gainDec = (codec as unknown as { gainDec: Float32Array }).gainDec;
const files = readdirSync(dir).filter((f) => /\.png$/i.test(f)).sort().slice(0, limit);
const agg: Record<string, number[]> = {};
for (const f of files) {
  const img = await decodeImageFile(new Uint8Array(readFileSync(path.join(dir, f))));
  const bytes = await codec.encode(img, { quality });
  const file = parseContainer(bytes);
  const g = latentGeometry(img.width, img.height);
  const gDec = interpolateGain(gainDec, codec.levels, codec.M, file.header.quality);
  const y = ys as unknown as Float32Array;
  const zhat = core.decodeZ(file.z, g.hz * g.wz);
  const { muQ, idx } = core.hyperSynthesis(zhat, g.hz, g.wz);
  const packed = new Uint32Array(muQ.length);
  for (let i = 0; i < muQ.length; i++) packed[i] = (muQ[i] & 0xffff) | (idx[i] << 16);
  const steps: Record<string, () => unknown> = {
    'dec.decodeZ': () => core.decodeZ(file.z, g.hz * g.wz),
    'dec.decodeLatent (fused, h_s inside)': () => core.decodeLatent(file.y, zhat, g.hz, g.wz, gDec),
    'h_s alone (core.hyperSynthesis)': () => core.hyperSynthesis(zhat, g.hz, g.wz),
    'dec.decodeLatentHs (packed h_s given)': () => core.decodeLatentHs(file.y, packed, gDec),
    'dec.decodeY + dequantizeLatent (unfused)': () => core.dequantizeLatent(core.decodeY(file.y, idx), muQ, gDec, codec.M, g.h * g.w),
    'enc.quantizeZ + encodeZ': () => core.encodeZ(core.quantizeZ(Float32Array.from(zhat)), g.hz * g.wz),
    'enc.encodeLatent (fused, h_s inside)': () => core.encodeLatent(y, zhat, g.hz, g.wz),
    'enc.encodeLatentHs (packed h_s given)': () => core.encodeLatentHs(y, packed),
    'enc.quantizeLatent + encodeY (unfused)': () => core.encodeY(core.quantizeLatent(y, muQ), idx),
  };
  const row: string[] = [];
  for (const [k, fn] of Object.entries(steps)) {
    fn();
    const t: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      fn();
      t.push(performance.now() - t0);
    }
    (agg[k] ??= []).push(median(t));
    row.push(`${k.split(' ')[0]} ${median(t).toFixed(2)}`);
  }
  console.error(`${f} ${img.width}x${img.height}: ${row.join(', ')}`);
}
console.log(`\nWASM core, ${files.length} images, q${quality}, median of ${runs} runs, ms:`);
for (const [k, v] of Object.entries(agg)) console.log(`${k.padEnd(44)} ${median(v).toFixed(2).padStart(8)}`);
codec.dispose();
