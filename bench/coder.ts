/**
 * Core benchmark (npm run bench:coder): rANS encode/decode throughput through the public
 * Core API (copies in/out included), on
 *   - a realistic y stream: ~300k symbols (one Kodak-size image, 768x512 → 192 x 32 x 48),
 *     scale indices spread like a trained model's (mostly small scales), symbols drawn from
 *     each table's own discretized Gaussian;
 *   - a z stream (Nz = 128 channels of 8 x 12);
 *   - an escape-heavy stream (20% of the symbols far outside their table);
 * and the integer h_s for a 768x512 image (zhat [128, 8, 12], full-size arch).
 * Median of several runs after warm-up. Writes bench/results/coder-speed.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { coreModelFromWeights } from '../src/core/model.js';
import { createNodeCore } from '../src/core/node-loader.js';
import { parseWeights } from '../src/model/weights.js';
import { makeRandomWeights, makeRng } from '../test/fixtures/random-weights.js';

const RUNS = Number(process.env.RUNS ?? 15);
const WARMUP = Number(process.env.WARMUP ?? 5);

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s[s.length >> 1];
}

function time(fn: () => void): number {
  for (let i = 0; i < WARMUP; i++) fn();
  const t: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  return median(t);
}

/** draw a symbol from an int32 CDF table (inverse CDF on a 16-bit uniform) */
function drawFromTable(cdf: Int32Array, a: number, b: number, offset: number, u: number): number {
  const slot = Math.floor(u * 65536);
  let s = 0;
  while (cdf[a + s + 1] <= slot) s++;
  const n = b - a - 1;
  if (s === n - 1) return offset + n - 1 + 3; // escape: just outside
  return offset + s;
}

async function main(): Promise<void> {
  // full-size h_s / tables; N does not matter here (float layers unused): keep it small
  const M = 192;
  const Nz = 128;
  const rw = makeRandomWeights({ seed: 7, N: 8, M, Nz, hsHidden: [96, 64] });
  const model = coreModelFromWeights(await parseWeights(rw.manifestJson, rw.bin));
  const core = await createNodeCore();
  core.setModel(model);
  const rng = makeRng(11);

  const rows: { name: string; symbols: number; bytes: number; encMs: number; decMs: number; encMsym: number; decMsym: number }[] = [];
  const bench = (name: string, k: Int32Array, idx: Int32Array | null, HW = 0): void => {
    const n = k.length;
    let bytes: Uint8Array = idx ? core.encodeY(k, idx) : core.encodeZ(k, HW);
    const encMs = time(() => {
      bytes = idx ? core.encodeY(k, idx) : core.encodeZ(k, HW);
    });
    let dec: Int32Array = new Int32Array(0);
    const decMs = time(() => {
      dec = idx ? core.decodeY(bytes, idx) : core.decodeZ(bytes, HW);
    });
    for (let i = 0; i < n; i++) if (dec[i] !== k[i]) throw new Error(`${name}: round trip mismatch at ${i}`);
    rows.push({ name, symbols: n, bytes: bytes.length, encMs, decMs, encMsym: n / encMs / 1000, decMsym: n / decMs / 1000 });
  };

  // realistic y stream: 192 x 32 x 48
  const n = M * 32 * 48;
  const { cdf, ptr, offset } = model.gauss;
  const idx = new Int32Array(n);
  const k = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rng();
    // ~60% tiny scales (mostly zeros), 30% mid, 10% large
    const t = u < 0.6 ? Math.floor(rng() * 16) : u < 0.9 ? 16 + Math.floor(rng() * 24) : 40 + Math.floor(rng() * 24);
    idx[i] = t;
    k[i] = drawFromTable(cdf, ptr[t], ptr[t + 1], offset[t], rng());
  }
  bench('y realistic (768x512)', k, idx);

  // z stream: 128 x 8 x 12, drawn from the z tables
  const HWz = 8 * 12;
  const zk = new Int32Array(Nz * HWz);
  for (let c = 0; c < Nz; c++) {
    for (let p = 0; p < HWz; p++) zk[c * HWz + p] = drawFromTable(model.z.cdf, model.z.ptr[c], model.z.ptr[c + 1], model.z.offset[c], rng());
  }
  bench('z (128x8x12)', zk, null, HWz);

  // escape-heavy: 20% of symbols well outside their table (|v| up to 2^20)
  const ke = k.slice();
  for (let i = 0; i < n; i++) {
    if (rng() < 0.2) {
      const t = idx[i];
      const span = Math.floor(rng() * 2 ** 20);
      ke[i] = rng() < 0.5 ? offset[t] - 1 - span : offset[t] + (ptr[t + 1] - ptr[t] - 2) + span;
    }
  }
  bench('y escape-heavy (20%)', ke, idx);

  // large uniform stream: 1M symbols, mid scale
  const n2 = 1 << 20;
  const idx2 = new Int32Array(n2);
  const k2 = new Int32Array(n2);
  for (let i = 0; i < n2; i++) {
    const t = Math.floor(rng() * 64);
    idx2[i] = t;
    k2[i] = drawFromTable(cdf, ptr[t], ptr[t + 1], offset[t], rng());
  }
  bench('y all scales (1M)', k2, idx2);

  // h_s: 768x512 → zhat [128, 8, 12]
  const zhat = new Int32Array(Nz * 8 * 12);
  for (let i = 0; i < zhat.length; i++) zhat[i] = Math.round((rng() * 2 - 1) * 4);
  const hsMs = time(() => core.hyperSynthesis(zhat, 8, 12));
  const macs = (8 * 12 * 4 * 96 * Nz * 9 + 16 * 24 * 4 * 64 * 96 * 9 + 32 * 48 * 2 * M * 64) / 1e6;

  // quantization / pre-post at 768x512
  const W = 768;
  const H = 512;
  const px = new Uint8Array(W * H * 4).map(() => Math.floor(rng() * 256));
  const toPlanarMs = time(() => core.toPlanar(px, W, H, 4, W, H));
  const planar = core.toPlanar(px, W, H, 4, W, H);
  const toRgbaMs = time(() => core.toRgba(planar, W, H, W, H));
  const ys = new Float32Array(n).map(() => (rng() - 0.5) * 20);
  const muQ = new Int32Array(n).map(() => Math.round((rng() - 0.5) * 100));
  const quantMs = time(() => core.quantizeLatent(ys, muQ));

  const machine = { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, platform: `${os.platform()} ${os.arch()}` };
  console.log(`nimg core benchmark — ${machine.cpu} (${machine.cores} cores), node ${machine.node}; median of ${RUNS} runs after ${WARMUP} warm-up`);
  console.log('');
  console.log('| stream | symbols | bytes | bits/sym | encode ms | decode ms | encode Msym/s | decode Msym/s |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    console.log(`| ${r.name} | ${r.symbols} | ${r.bytes} | ${((r.bytes * 8) / r.symbols).toFixed(3)} | ${r.encMs.toFixed(2)} | ${r.decMs.toFixed(2)} | ${r.encMsym.toFixed(1)} | ${r.decMsym.toFixed(1)} |`);
  }
  console.log('');
  console.log('| op (768x512) | ms |');
  console.log('| --- | ---: |');
  console.log(`| h_s integer (zhat 128x8x12 → 192x32x48, ${macs.toFixed(0)}M MACs) | ${hsMs.toFixed(2)} |`);
  console.log(`| toPlanar RGBA | ${toPlanarMs.toFixed(2)} |`);
  console.log(`| toRgba | ${toRgbaMs.toFixed(2)} |`);
  console.log(`| quantizeLatent (${n}) | ${quantMs.toFixed(2)} |`);

  const out = {
    date: new Date().toISOString(),
    machine,
    runs: RUNS,
    warmup: WARMUP,
    note: 'Public Core API timings (input/output copies included). Msym/s = million symbols per second.',
    streams: rows.map((r) => ({ ...r, bitsPerSymbol: (r.bytes * 8) / r.symbols })),
    hs: { image: '768x512', zhat: [Nz, 8, 12], mmacs: Math.round(macs), ms: hsMs },
    pixels: { image: '768x512', toPlanarMs, toRgbaMs },
    quantizeLatent: { n, ms: quantMs },
  };
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/coder-speed.json', import.meta.url), JSON.stringify(out, null, 2) + '\n');
  console.log('\nwrote bench/results/coder-speed.json');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
