/**
 * CPU speed of nimg on the WASM backend, 2 threads (tile workers) and 1 thread: Kodak encode
 * and decode medians (end to end, RGBA → bytes → RGBA), the stage split from the codec's
 * stats, and the fraction of the backend's own peak conv2d throughput that the transforms
 * reach.
 *
 *   npm run bench:cpu                       # writes bench/results/cpu-speed.json
 *   npm run bench:cpu -- --images 8 --runs 3 --threads 2,1 --quality 5 --no-save
 *
 * Method: for each thread count, a fresh NimgCodec ({backend: 'wasm', threads}); workers are
 * awaited, one warm-up encode+decode, then `--images` Kodak images (first N, sorted) x
 * `--runs` timed runs each; medians over all image x run samples. Peak: `measurePeakConvGflops`
 * (conv3x3 256→256 on 96x64, one thread, best of 4) on the main thread's tfjs WASM engine,
 * measured before and after the runs (max kept). Work: `netMacs` (1 MAC = 2 FLOP; tile halos
 * not counted, so halo recomputation counts against efficiency). Efficiency =
 * GFLOP/s / (threads x single-thread peak). The machine is shared and noisy: the load average
 * is recorded before and after each phase. Because the load moves, the peak is also probed
 * before each image (workers idle) and each phase is normalised by the median of its own
 * probes; `cpu_cores_used` (process CPU time / wall, probes excluded) shows whether a
 * thread count actually got its cores.
 */
import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import '../src/node/defaults.js'; // init() reads the packaged core and weights
import { NimgCodec, type DecodeStats, type EncodeStats } from '../src/codec.js';
import { initBackend } from '../src/backend/index.js';
import { decodePng } from '../src/image/png.js';
import { netMacs } from '../src/model/net.js';
import { measurePeakConvGflops } from '../src/model/probe-speed.js';
import { median } from './stats.js';
import { opt, flag } from './args.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = path.join(ROOT, 'bench', 'results', 'cpu-speed.json');

const IMAGES_DIR = path.resolve(ROOT, opt('dir', path.join('..', 'shared', 'data', 'kodak')));
const N_IMAGES = Number(opt('images', '8'));
const RUNS = Number(opt('runs', '3'));
const THREADS = opt('threads', '2,1').split(',').map(Number);
const QUALITY = Number(opt('quality', '5'));

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const load = () => os.loadavg().map((x) => round(x, 2));

async function main(): Promise<void> {
  const files = readdirSync(IMAGES_DIR).filter((f) => f.endsWith('.png')).sort().slice(0, N_IMAGES);
  const images = await Promise.all(files.map(async (f) => ({ name: f, ...(await decodePng(readFileSync(path.join(IMAGES_DIR, f)))) })));

  await initBackend('wasm');
  const peakBefore = await measurePeakConvGflops();
  console.error(`[cpu-speed] peak ${peakBefore.shape}: ${peakBefore.gflops.toFixed(1)} GFLOP/s (1 thread), load ${load().join(' ')}`);

  const phases: Record<string, unknown>[] = [];
  let arch: { N: number; M: number; Nz: number } | null = null;
  for (const threads of THREADS) {
    const loadBefore = load();
    const codec = await NimgCodec.create({ backend: 'wasm', threads });
    arch = codec.weights.manifest.arch;
    const tf = await codec.transformsFor('wasm');
    await (tf as unknown as { ready?: () => Promise<void> }).ready?.();
    const actualThreads = (tf as unknown as { threads: number }).threads;
    const tileSize = (tf as unknown as { tileSize: number }).tileSize;
    // warm-up
    const wb = await codec.encode(images[0], { quality: QUALITY });
    await codec.decode(wb);

    const enc: EncodeStats[] = [];
    const dec: DecodeStats[] = [];
    const gfA: number[] = [], gfS: number[] = [];
    const peaks: number[] = [];
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    let cpuOutsidePeak = 0; // CPU µs spent in the peak probes, subtracted from the utilisation
    let wallPeak = 0;
    for (const img of images) {
      // peak probe next to the runs it normalises (same load); workers idle meanwhile
      const c0 = process.cpuUsage(), w0 = performance.now();
      peaks.push((await measurePeakConvGflops(3)).gflops);
      const c1 = process.cpuUsage(c0);
      cpuOutsidePeak += c1.user + c1.system;
      wallPeak += performance.now() - w0;
      const padH = Math.ceil(img.height / 64) * 64, padW = Math.ceil(img.width / 64) * 64;
      const flopA = 2 * netMacs(arch, 'analysis', padH, padW);
      const flopS = 2 * netMacs(arch, 'synthesis', padH / 16, padW / 16);
      for (let r = 0; r < RUNS; r++) {
        const e = await codec.encodeWithStats(img, { quality: QUALITY });
        const d = await codec.decodeWithStats(e.bytes);
        enc.push(e.stats);
        dec.push(d.stats);
        gfA.push(flopA / e.stats.analysisMs / 1e6);
        gfS.push(flopS / d.stats.transformMs / 1e6);
      }
      console.error(`[cpu-speed] threads ${actualThreads}: ${img.name} enc ${round(enc[enc.length - 1].totalMs, 0)} ms, dec ${round(dec[dec.length - 1].totalMs, 0)} ms`);
    }
    const wallS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuUtil = (cpu.user + cpu.system - cpuOutsidePeak) / 1000 / ((wallS * 1000 - wallPeak));
    codec.dispose();
    const med = <T>(a: T[], k: keyof T) => round(median(a.map((s) => s[k] as unknown as number)), 1);
    phases.push({
      threads: actualThreads,
      tile_size: tileSize,
      samples: enc.length,
      wall_s: round(wallS, 1),
      cpu_cores_used: round(cpuUtil, 2),
      peak_conv_gflops_1thread_interleaved: { median: round(median(peaks), 2), min: round(Math.min(...peaks), 2), max: round(Math.max(...peaks), 2), samples: peaks.length },
      loadavg_before: loadBefore,
      loadavg_after: load(),
      encode_ms: {
        total: med(enc, 'totalMs'),
        pre: med(enc, 'preMs'),
        analysis: med(enc, 'analysisMs'),
        hyper_analysis: med(enc, 'hyperAnalysisMs'),
        entropy: med(enc, 'entropyMs'),
        container: med(enc, 'containerMs'),
      },
      decode_ms: {
        total: med(dec, 'totalMs'),
        container: med(dec, 'containerMs'),
        entropy: med(dec, 'entropyMs'),
        synthesis: med(dec, 'transformMs'),
        post: med(dec, 'postMs'),
      },
      encode_mp_per_s: round((768 * 512) / 1e6 / (median(enc.map((s) => s.totalMs)) / 1000), 3),
      decode_mp_per_s: round((768 * 512) / 1e6 / (median(dec.map((s) => s.totalMs)) / 1000), 3),
      bpp_median: round(median(enc.map((s) => s.bpp)), 4),
      gflops: { analysis: round(median(gfA), 2), synthesis: round(median(gfS), 2) },
    });
    console.error(`[cpu-speed] threads ${actualThreads}: ${JSON.stringify(phases[phases.length - 1])}`);
  }

  const peakAfter = await measurePeakConvGflops();
  const peak = Math.max(peakBefore.gflops, peakAfter.gflops);
  for (const p of phases) {
    const t = p.threads as number;
    const g = p.gflops as { analysis: number; synthesis: number };
    const pk = (p.peak_conv_gflops_1thread_interleaved as { median: number; max: number });
    const used = p.cpu_cores_used as number;
    p.fraction_of_peak = {
      analysis: round(g.analysis / t / pk.median, 3),
      synthesis: round(g.synthesis / t / pk.median, 3),
      note: `${t > 1 ? `per thread: GFLOP/s / ${t}` : 'GFLOP/s'} / median single-thread peak measured between the images of this phase`,
    };
    p.fraction_of_best_peak = {
      analysis: round(g.analysis / t / Math.max(pk.max, peak), 3),
      synthesis: round(g.synthesis / t / Math.max(pk.max, peak), 3),
      note: 'conservative: against the best single-thread peak seen in the whole run',
    };
    p.fraction_of_peak_per_core_used = {
      analysis: round(g.analysis / Math.min(t, used) / pk.median, 3),
      synthesis: round(g.synthesis / Math.min(t, used) / pk.median, 3),
      note: 'GFLOP/s / min(threads, cpu_cores_used) / median peak: discounts a core the shared machine did not give us',
    };
  }
  const out = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, node: process.version },
    method:
      `WASM backend (tfjs-backend-wasm SIMD, tile workers for threads > 1), quality ${QUALITY}; first ${files.length} Kodak images (${files.join(', ')}) ` +
      `x ${RUNS} runs each after one warm-up encode+decode; medians over the ${files.length * RUNS} samples. End to end: RGBA -> bytes (encode), bytes -> RGBA (decode). ` +
      'Stage split from encodeWithStats/decodeWithStats. GFLOP/s = 2*netMacs / stage time (halo not counted). Shared noisy 2-core machine: see loadavg.',
    model: arch,
    peak_conv_gflops_1thread: { before: round(peakBefore.gflops, 2), after: round(peakAfter.gflops, 2), used: round(peak, 2), shape: peakBefore.shape },
    goal_fraction: 0.7,
    phases,
  };
  console.log(JSON.stringify(out, null, 2));
  if (!flag('no-save')) {
    mkdirSync(path.dirname(RESULTS), { recursive: true });
    writeFileSync(`${RESULTS}.tmp`, `${JSON.stringify(out, null, 2)}\n`);
    renameSync(`${RESULTS}.tmp`, RESULTS);
    console.error(`[cpu-speed] wrote ${path.relative(ROOT, RESULTS)}`);
  }
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
