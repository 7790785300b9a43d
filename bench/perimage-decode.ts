/**
 * Per-image profile decode speed (npx tsx bench/perimage-decode.ts): a 768×512 image with the
 * default architecture (SPEC.md §1), random but realistic parameters (small ARM weights and
 * biases, bicubic-like taps, synthesis weights ~ ±0.5) and grids whose values are mostly 0 / ±1,
 * one thread. Times (median of RUNS after WARMUP):
 *   - entropy + ARM: decodeLatents (params installed, stream decoded, grids copied out);
 *   - upsampling: synthesize() stopped after the upsampling (bench hook);
 *   - synthesis: synthesize() minus the upsampling;
 *   - whole: decodePayload (params section + latent stream → RGBA).
 * Env: RUNS (default 9), WARMUP (3), W, H, NIMG_WASM (path of the core; default build/nimg-core.wasm).
 */
import { readFileSync } from 'node:fs';
import { createPerImageCore } from '../src/profiles/perimage/core.js';
import { defaultArch } from '../src/profiles/perimage/types.js';
import { makeRng, randomGrids, randomParams } from '../test/fixtures/perimage-random.js';

const RUNS = Number(process.env.RUNS ?? 9);
const WARMUP = Number(process.env.WARMUP ?? 3);
const W = Number(process.env.W ?? 768);
const H = Number(process.env.H ?? 512);

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s[s.length >> 1];
}

/** CPU time (user + system) of this process: less disturbed than wall time on a shared machine */
const cpu: Record<string, number> = {};

function time(fn: () => void, name: string): number {
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
  cpu[name] = median(c);
  return median(t);
}

const mod = await WebAssembly.compile(readFileSync(process.env.NIMG_WASM ?? new URL('../build/nimg-core.wasm', import.meta.url)));
const core = await createPerImageCore(mod);
const rng = makeRng(2026);
const arch = defaultArch();
const params = randomParams(rng, arch, { armScale: 24, armBias: 64 });
const grids = randomGrids(rng, arch.L, W, H, 127, 0.6);
const pBytes = core.encodeParams(params);
const lBytes = core.encodeLatents(params, grids, W, H);
const nLat = grids.reduce((s, g) => s + g.length, 0);

const tLat = time(() => core.decodeLatents(params, lBytes, W, H), 'entropyArm');
core.setUpsampleOnly(true);
const tUp = time(() => core.synthesize(params, grids, W, H), 'upsampling');
core.setUpsampleOnly(false);
const tSyn = time(() => core.synthesize(params, grids, W, H), 'synthesize');
const tAll = time(() => core.decodePayload(pBytes, lBytes, W, H), 'whole');
// memory of a decoder that only decodes (the encoder's symbol arrays above grew `core`)
const dec = await createPerImageCore(mod);
dec.decodePayload(pBytes, lBytes, W, H);

const r = (x: number) => Math.round(x * 10) / 10;
console.log(
  JSON.stringify(
    {
      image: `${W}x${H}`,
      latents: nLat,
      latentBytes: lBytes.length,
      bpp: r((lBytes.length * 8 * 1000) / (W * H)) / 1000,
      paramsBytes: pBytes.length,
      ms: { entropyArm: r(tLat), upsampling: r(tUp), synthesis: r(tSyn - tUp), whole: r(tAll) },
      cpuMs: { entropyArm: r(cpu.entropyArm), upsampling: r(cpu.upsampling), synthesis: r(cpu.synthesize - cpu.upsampling), whole: r(cpu.whole) },
      nsPerLatent: r((tLat * 1e6) / nLat),
      // WASM memory after the runs; grids (i16, padded) + RGBA output are the image-sized part
      decoderWasmMemoryMiB: r(dec.memorySize() / 2 ** 20),
      gridsAndOutputMiB: r((nLat * 2 + W * H * 4) / 2 ** 20),
      runs: RUNS,
    },
    null,
    2,
  ),
);
