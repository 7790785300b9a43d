/**
 * The edge example in workerd: bundle size and CPU time per request (decode + PNG encode).
 *
 *   npm run bench:edge                    # writes bench/results/edge-worker.json
 *   npm run bench:edge -- --images 2 --runs 2 --no-save
 *
 * Method: examples/edge/build.mjs bundles the worker (from the package's dist/ when built,
 * else from src/ — the same code), workerd from npm serves it on 127.0.0.1. Inside a worker
 * the clocks stand still between I/O (workerd's Spectre mitigation), so time is measured
 * from outside: the CPU time (user + system, /proc/PID/stat, 10 ms ticks) the workerd
 * process spends on each request, and its wall time. The first request is reported apart:
 * it loads the weights from the WEIGHTS binding and starts tfjs. Then `--images` Kodak images
 * (first N, sorted; ../shared/data/kodak) × `--runs` requests, each file encoded by Node
 * (WASM, quality `--quality`), medians over all requests. For scale, the same files decoded
 * in this Node process (WASM, 1 thread: what the worker runs), by process CPU time. Every
 * PNG the worker returns is checked against Node's decode.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import '../src/node/defaults.js'; // init() reads the packaged core and weights
import { NimgCodec } from '../src/codec.js';
import { decodePng } from '../src/image/png.js';
// @ts-expect-error plain JS helpers of the example (no declarations)
import { buildEdgeWorker } from '../examples/edge/build.mjs';
// @ts-expect-error plain JS helpers of the example (no declarations)
import { startWorkerd, workerdBin } from '../examples/edge/serve.mjs';
import { median } from './stats.js';
import { opt, flag } from './args.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = path.join(ROOT, 'bench', 'results', 'edge-worker.json');
const KODAK = path.resolve(ROOT, '..', 'shared', 'data', 'kodak');

/** CPU seconds (user + system, all threads) of a process so far. */
function procCpuMs(pid: number): number {
  // fields after the ")" of the command name: state is field 3, utime 14, stime 15
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]);
  return (ticks * 1000) / 100; // CLK_TCK is 100 on Linux
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

const nImages = Number(opt('images', '4'));
const runs = Number(opt('runs', '3'));
const quality = Number(opt('quality', '5'));

const names = readdirSync(KODAK).filter((f) => f.endsWith('.png')).sort().slice(0, nImages);
if (!names.length) throw new Error(`no Kodak images in ${KODAK}`);

const fromPackage = existsSync(path.join(ROOT, 'dist', 'index.js'));
const dir = mkdtempSync(path.join(os.tmpdir(), 'nimg-edge-bench-'));
const sizes = (await buildEdgeWorker({ outdir: dir, source: !fromPackage })) as Record<string, { bytes: number; gzip: number }>;
const weightsDir = path.join(ROOT, 'weights');
const weights = ['nimg-v1.json', 'nimg-v1.bin'].map((f) => readFileSync(path.join(weightsDir, f)));
const codec = await NimgCodec.create({ backend: 'wasm', threads: 1 });

const files: { name: string; bytes: Uint8Array; width: number; height: number }[] = [];
for (const n of names) {
  const img = await decodePng(new Uint8Array(readFileSync(path.join(KODAK, n))));
  files.push({ name: n, bytes: await codec.encode(img, { quality, backend: 'wasm' }), width: img.width, height: img.height });
}

// Node, for scale: the same decode on this thread
await codec.decode(files[0].bytes, { backend: 'wasm' });
const nodeCpu: number[] = [];
const reference = new Map<string, Uint8ClampedArray>();
for (const f of files) {
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage();
    const img = await codec.decode(f.bytes, { backend: 'wasm' });
    const c = process.cpuUsage(c0);
    nodeCpu.push((c.user + c.system) / 1000);
    reference.set(f.name, img.data);
  }
}

const load0 = os.loadavg();
const wd = await startWorkerd({ dir, weightsDir, timeoutMs: 30_000 });
const pid: number = wd.pid;
let mismatches = 0;
async function request(f: (typeof files)[number]): Promise<{ cpuMs: number; wallMs: number }> {
  const c0 = procCpuMs(pid);
  const t0 = performance.now();
  const r = await fetch(wd.url, { method: "POST", body: f.bytes as Uint8Array<ArrayBuffer> });
  const body = new Uint8Array(await r.arrayBuffer());
  const wallMs = performance.now() - t0;
  const cpuMs = procCpuMs(pid) - c0;
  if (r.status !== 200) throw new Error(`workerd: HTTP ${r.status}: ${new TextDecoder().decode(body)}`);
  const png = await decodePng(body);
  const ref = reference.get(f.name)!;
  if (png.data.length !== ref.length || png.data.some((v, i) => v !== ref[i])) mismatches++;
  return { cpuMs, wallMs };
}
let first: { cpuMs: number; wallMs: number };
const cpu: number[] = [];
const wall: number[] = [];
let rss = NaN;
try {
  first = await request(files[0]);
  for (const f of files) {
    for (let r = 0; r < runs; r++) {
      const m = await request(f);
      cpu.push(m.cpuMs);
      wall.push(m.wallMs);
    }
  }
} finally {
  rss = rssMiB(pid);
  await wd.stop();
  codec.dispose();
  rmSync(dir, { recursive: true, force: true });
}
const load1 = os.loadavg();

const total = Object.values(sizes).reduce((a, s) => ({ bytes: a.bytes + s.bytes, gzip: a.gzip + s.gzip }), { bytes: 0, gzip: 0 });
const result = {
  what: 'examples/edge in workerd: POST .nimg → PNG; CPU time of the workerd process per request (decode + PNG encode)',
  date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg_before: load0.map((x) => +x.toFixed(2)), loadavg_after: load1.map((x) => +x.toFixed(2)) },
  workerd: execFileSync(workerdBin(), ['--version']).toString().trim(),
  node: process.version,
  bundled_from: fromPackage ? 'the package (dist/, export condition workerd)' : 'src/ (same code as dist/)',
  bundle: { files: sizes, total },
  weights_outside_bundle: { 'nimg-v1.json': weights[0].length, 'nimg-v1.bin': weights[1].length, note: 'fetched once per isolate from the WEIGHTS service binding' },
  images: files.map((f) => ({ name: f.name, width: f.width, height: f.height, bytes: f.bytes.length })),
  quality,
  runs,
  first_request: { cpu_ms: first!.cpuMs, wall_ms: Math.round(first!.wallMs), note: 'loads the weights and starts tfjs, then decodes' },
  per_request_median: { cpu_ms: median(cpu), wall_ms: Math.round(median(wall)), samples: cpu.length },
  node_decode_median_cpu_ms: Math.round(median(nodeCpu)),
  workerd_rss_mib_after: rss,
  pixels_equal_node: mismatches === 0,
};
console.log(JSON.stringify(result, null, 2));
if (mismatches) throw new Error(`${mismatches} responses differ from Node's decode`);
if (!flag('no-save')) {
  mkdirSync(path.dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS + '.tmp', JSON.stringify(result, null, 2) + '\n');
  renameSync(RESULTS + '.tmp', RESULTS);
  console.log(`wrote ${path.relative(ROOT, RESULTS)}`);
}
