/**
 * 24 MP per-image decode with bounded memory (issue 16 point 6), and the limits' refusal of
 * a larger declared size.
 *
 *   npx tsx bench/perimage-big.ts [--w 6000 --h 4000] [--runs 2]   # writes bench/results/perimage-big.json
 *
 * 1. Builds a W×H v2 file of the DEFAULT architecture with STAND-IN content
 *    (bench/perimage-standin.ts: Laplacian-pyramid grids of a synthetic picture, small random
 *    weights; no encode): the decode does the work of a real file of that size.
 * 2. Decodes it in a fresh child process (decodePerImageFile with limits raised to W×H) and
 *    reports the child's peak RSS, the core's WASM memory, the time and its split: the peak
 *    of a process that only decodes. What must be image-sized: the grids (2 bytes a latent,
 *    ~1.33 latents a pixel), the RGBA output inside WASM and its copy in JS (4 + 4 bytes a
 *    pixel); the synthesis runs in bands of a few MiB.
 * 3. Under the default limits the same file is refused (LIMIT_EXCEEDED, maxPixels) from its
 *    header, timed, in the same child.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NimgError } from '../src/errors.js';
import { createPerImageCore } from '../src/profiles/perimage/core.js';
import { decodePerImageFile } from '../src/profiles/perimage/decode-file.js';
import { DEFAULT_LIMITS } from '../src/limits.js';
import { standInFile } from './perimage-standin.js';
import { opt, flag } from './args.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);

const r1 = (x: number) => Math.round(x * 10) / 10;
const peakMb = () => r1(process.resourceUsage().maxRSS / 1024);

/** a smooth synthetic photo-like picture (gradients, edges, texture), RGBA */
function picture(w: number, h: number): Uint8Array {
  const d = new Uint8Array(w * h * 4);
  let s = 12345;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      const i = 4 * (y * w + x);
      const n = (s >>> 24) & 15;
      d[i] = 128 + 90 * Math.sin(x / 97 + y / 151) + n;
      d[i + 1] = ((x >> 7) + (y >> 7)) & 1 ? 180 + n : 60 + (y & 63);
      d[i + 2] = 128 + 100 * Math.cos((x * y) / 50000);
      d[i + 3] = 255;
    }
  return d;
}

async function child(file: string, runs: number): Promise<void> {
  const bytes = new Uint8Array(readFileSync(file));
  const rssStart = r1(process.memoryUsage().rss / 2 ** 20);
  const core = await createPerImageCore();
  // refused under the default limits, from the header
  const t0 = performance.now();
  let refusal: { code: string; limit?: string; value?: number; ms: number } | null = null;
  try {
    await decodePerImageFile(core, bytes);
  } catch (e) {
    if (!(e instanceof NimgError)) throw e;
    refusal = { code: e.code, limit: e.limit, value: e.value, ms: r1(performance.now() - t0) };
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  const w = dv.getUint32(12, true), h = dv.getUint32(16, true);
  const limits = { maxPixels: w * h, maxWidth: Math.max(w, DEFAULT_LIMITS.maxWidth), maxHeight: Math.max(h, DEFAULT_LIMITS.maxHeight) };
  const times: { totalMs: number; paramsMs: number; latentsMs: number; synthesisMs: number }[] = [];
  let checksum = 0;
  let peakFirst = 0;
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage();
    const d = await decodePerImageFile(core, bytes, { limits });
    const cpu = process.cpuUsage(c0);
    times.push({ totalMs: r1(d.stats.totalMs), paramsMs: r1(d.stats.paramsMs), latentsMs: r1(d.stats.latentsMs), synthesisMs: r1(d.stats.synthesisMs), cpuMs: r1((cpu.user + cpu.system) / 1000) } as never);
    for (let i = 0; i < d.data.length; i += 4099) checksum = (checksum + d.data[i]) | 0;
    // after one decode: later runs may hold the previous output until it is collected
    if (r === 0) peakFirst = peakMb();
  }
  process.stdout.write(JSON.stringify({ refusal_under_default_limits: refusal, rss_start_mb: rssStart, peak_rss_mb_first_decode: peakFirst, peak_rss_mb: peakMb(), core_wasm_mib: r1(core.memorySize() / 2 ** 20), runs: times, checksum }));
}

async function main(): Promise<void> {
  const W = Number(opt('w', '6000')), H = Number(opt('h', '4000')), runs = Number(opt('runs', '2'));
  mkdirSync(path.join(ROOT, '.out'), { recursive: true });
  const file = path.join(ROOT, '.out', `perimage-${W}x${H}.nimg`);
  const t0 = performance.now();
  const core = await createPerImageCore();
  const bytes = standInFile(core, picture(W, H), W, H, -560);
  writeFileSync(file, bytes);
  const buildS = r1((performance.now() - t0) / 1000);
  console.error(`[perimage-big] ${W}x${H} stand-in file: ${bytes.length} bytes (${((bytes.length * 8) / (W * H)).toFixed(3)} bpp), built in ${buildS} s`);
  const out = execFileSync(process.execPath, [...process.execArgv, SELF, '--child', file, '--runs', String(runs)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const c = JSON.parse(out);
  const latents = Array.from({ length: 7 }, (_, k) => Math.ceil(W / 2 ** k) * Math.ceil(H / 2 ** k)).reduce((a, b) => a + b, 0);
  const result = {
    date: new Date().toISOString(),
    command: `npx tsx bench/perimage-big.ts ${process.argv.slice(2).join(' ')}`.trim(),
    machine: { cores: os.cpus().length, cpu_model: os.cpus()[0]?.model, node: process.version, loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100) },
    stand_in_file: true,
    note: 'default architecture, stand-in content (bench/perimage-standin.ts): the decode work and memory of a real file of this size; decoded in a fresh child process (peak RSS is that process\'s)',
    image: `${W}x${H}`,
    megapixels: r1((W * H) / 1e6),
    file_bytes: bytes.length,
    latents,
    image_sized_buffers_mib: { grids_i16: r1((latents * 2) / 2 ** 20), rgba_in_wasm: r1((W * H * 4) / 2 ** 20), rgba_js_copy: r1((W * H * 4) / 2 ** 20) },
    ...c,
    compared_to: 'amortized profile, same size: decode 1716 MiB peak RSS, 107 s (bench/results/big-image.json)',
  };
  writeFileSync(path.join(ROOT, 'bench', 'results', 'perimage-big.json'), `${JSON.stringify(result, null, 1)}\n`);
  console.log(JSON.stringify(result, null, 1));
}

if (flag('child')) {
  child(opt('child', ''), Number(opt('runs', '2'))).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
