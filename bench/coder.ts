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
import { createCore } from '../src/core/index.js';
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

interface Timing {
  /** median wall-clock ms */
  ms: number;
  /** fastest wall-clock run */
  minMs: number;
  /** median process CPU ms (user + system): robust when other processes share the cores */
  cpuMs: number;
}

function time(fn: () => void): Timing {
  for (let i = 0; i < WARMUP; i++) fn();
  const t: number[] = [];
  const c: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
    const d = process.cpuUsage(c0);
    c.push((d.user + d.system) / 1000);
  }
  return { ms: median(t), minMs: Math.min(...t), cpuMs: median(c) };
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
  const coldCore = await createCore(core.module); // fresh instance: its first calls run baseline-compiled code
  const rng = makeRng(11);

  const rows: { name: string; symbols: number; bytes: number; enc: Timing; dec: Timing; encMsym: number; decMsym: number; encMsymCpu: number; decMsymCpu: number }[] = [];
  const bench = (name: string, k: Int32Array, idx: Int32Array | null, HW = 0): void => {
    const n = k.length;
    let bytes: Uint8Array = idx ? core.encodeY(k, idx) : core.encodeZ(k, HW);
    const enc = time(() => {
      bytes = idx ? core.encodeY(k, idx) : core.encodeZ(k, HW);
    });
    let out: Int32Array = new Int32Array(0);
    const dec = time(() => {
      out = idx ? core.decodeY(bytes, idx) : core.decodeZ(bytes, HW);
    });
    for (let i = 0; i < n; i++) if (out[i] !== k[i]) throw new Error(`${name}: round trip mismatch at ${i}`);
    const msym = (ms: number): number => n / ms / 1000;
    rows.push({ name, symbols: n, bytes: bytes.length, enc, dec, encMsym: msym(enc.ms), decMsym: msym(dec.ms), encMsymCpu: msym(enc.cpuMs), decMsymCpu: msym(dec.cpuMs) });
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
  // first call on a fresh instance (what a one-shot CLI decode sees)
  coldCore.setModel(model);
  const coldBytes = coldCore.encodeY(k, idx);
  const c0 = performance.now();
  coldCore.decodeY(coldBytes, idx);
  const coldDecMs = performance.now() - c0;
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
  const hsT = time(() => core.hyperSynthesis(zhat, 8, 12));
  const macs = (8 * 12 * 4 * 96 * Nz * 9 + 16 * 24 * 4 * 64 * 96 * 9 + 32 * 48 * 2 * M * 64) / 1e6;

  // the decoder's integer path for one 768x512 image: separate API calls vs the fused call
  const gDec = Float32Array.from({ length: M }, () => 0.5 + rng());
  const hsOut = core.hyperSynthesis(zhat, 8, 12);
  const ysR = Float32Array.from({ length: M * 32 * 48 }, () => (rng() - 0.5) * 6);
  const yBytes = core.encodeY(core.quantizeLatent(ysR, hsOut.muQ), hsOut.idx);
  const sepT = time(() => {
    const h = core.hyperSynthesis(zhat, 8, 12);
    const kk = core.decodeY(yBytes, h.idx);
    core.dequantizeLatent(kk, h.muQ, gDec, M, 32 * 48);
  });
  const fusedT = time(() => core.decodeLatent(yBytes, zhat, 8, 12, gDec));

  // quantization / pre-post at 768x512
  const W = 768;
  const H = 512;
  const px = new Uint8Array(W * H * 4).map(() => Math.floor(rng() * 256));
  const toPlanarT = time(() => core.toPlanar(px, W, H, 4, W, H));
  const planar = core.toPlanar(px, W, H, 4, W, H);
  const toRgbaT = time(() => core.toRgba(planar, W, H, W, H));
  const ys = new Float32Array(n).map(() => (rng() - 0.5) * 20);
  const muQ = new Int32Array(n).map(() => Math.round((rng() - 0.5) * 100));
  const quantT = time(() => core.quantizeLatent(ys, muQ));

  const machine = {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    loadavg: os.loadavg().map((v) => Math.round(v * 100) / 100),
  };
  const f = (v: number, d = 2): string => v.toFixed(d);
  console.log(`nimg core benchmark — ${machine.cpu} (${machine.cores} cores), node ${machine.node}; load average ${machine.loadavg.join(' ')}`);
  console.log(`median of ${RUNS} runs after ${WARMUP} warm-up; wall-clock, with process CPU time beside it (robust when other processes share the cores)`);
  console.log('');
  console.log('| stream | symbols | bits/sym | enc ms | dec ms | enc Msym/s | dec Msym/s | enc Msym/s (cpu) | dec Msym/s (cpu) | dec Msym/s (best) |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${r.symbols} | ${f((r.bytes * 8) / r.symbols, 3)} | ${f(r.enc.ms)} | ${f(r.dec.ms)} | ${f(r.encMsym, 1)} | ${f(r.decMsym, 1)} | ${f(r.encMsymCpu, 1)} | ${f(r.decMsymCpu, 1)} | ${f(r.symbols / r.dec.minMs / 1000, 1)} |`,
    );
  }
  console.log(`first decodeY of the realistic stream on a fresh instance (cold): ${f(coldDecMs)} ms (${f(n / coldDecMs / 1000, 1)} Msym/s)`);
  console.log('');
  console.log('| op (768x512) | ms | cpu ms | best ms |');
  console.log('| --- | ---: | ---: | ---: |');
  const op = (name: string, t: Timing): void => console.log(`| ${name} | ${f(t.ms)} | ${f(t.cpuMs)} | ${f(t.minMs)} |`);
  op(`h_s integer (zhat 128x8x12 → 192x32x48, ${macs.toFixed(0)}M MACs)`, hsT);
  op('decoder integer path: hyperSynthesis + decodeY + dequantizeLatent (3 calls)', sepT);
  op('decoder integer path: decodeLatent (fused, intermediates stay in WASM)', fusedT);
  op('toPlanar RGBA', toPlanarT);
  op('toRgba', toRgbaT);
  op(`quantizeLatent (${n})`, quantT);

  const out = {
    date: new Date().toISOString(),
    machine,
    runs: RUNS,
    warmup: WARMUP,
    note: 'Public Core API timings (input/output copies included). Msym/s = million symbols per second. ms = median wall-clock, minMs = fastest run, cpuMs = median process CPU time.',
    streams: rows.map((r) => ({ ...r, bitsPerSymbol: (r.bytes * 8) / r.symbols })),
    coldFirstDecode: { stream: 'y realistic (768x512)', ms: coldDecMs },
    hs: { image: '768x512', zhat: [Nz, 8, 12], mmacs: Math.round(macs), ...hsT },
    decoderIntegerPath: { image: '768x512', separateCalls: sepT, fusedDecodeLatent: fusedT },
    pixels: { image: '768x512', toPlanar: toPlanarT, toRgba: toRgbaT },
    quantizeLatent: { n, ...quantT },
  };
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/coder-speed.json', import.meta.url), JSON.stringify(out, null, 2) + '\n');
  console.log('\nwrote bench/results/coder-speed.json');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
