/**
 * nimg's fuzzer, from the command line:
 *
 *   npm run fuzz -- --seconds 60                                   # print the counts
 *   npm run fuzz -- --seconds 3600 --out bench/results/fuzz.json   # checkpointed every 60 s
 *   options: --seed N (default 1)  --targets nimg,png,jpeg,perimage (default nimg,png,jpeg: the
 *            inputs of committed runs stay reproducible; perimage = the v2 decoder)
 *            --shipped W (also decode with the shipped weights, at relative weight W; default 0)
 *            --max-iterations N  --checkpoint S  --repro N (rebuild iteration N's input to .out/)
 *
 * Exit status 1 when any input threw something other than a NimgError or took over 2 s
 * (twice: a slow input is run again, and one that is fast the second time is counted as a
 * stall of the process, not a finding).
 * Findings go to stderr as they happen, with the input (base64) when small.
 */
import { execSync } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fuzz, inputAt, type FuzzReport } from './harness.js';
import type { FuzzTarget } from './mutator.js';
import { FUZZ_LIMITS, jpegTarget, nimgTarget, perimageTarget, pngTarget } from './targets.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

async function main(): Promise<void> {
  const seconds = Number(arg('seconds', '60'));
  const seed = Number(arg('seed', '1'));
  const out = arg('out', '');
  const names = arg('targets', 'nimg,png,jpeg').split(',');
  const shipped = Number(arg('shipped', '0'));
  const targets: FuzzTarget[] = [];
  const disposers: (() => void)[] = [];
  // relative weights: .nimg decodes dominate (the 1M goal); image reads are ~10% of inputs
  if (names.includes('nimg')) {
    const t = await nimgTarget({ weight: 10 });
    targets.push(t);
    disposers.push(t.dispose);
  }
  if (shipped > 0) {
    const t = await nimgTarget({ model: 'shipped', weight: shipped });
    targets.push(t);
    disposers.push(t.dispose);
  }
  // the per-image (v2) decoder; with other targets it takes a weight like the .nimg decoder's
  let piCore: { memorySize(): number } | null = null;
  if (names.includes('perimage')) {
    const t = await perimageTarget(10);
    piCore = t.core;
    targets.push(t);
    disposers.push(t.dispose);
  }
  if (names.includes('png')) targets.push(pngTarget(0.6));
  if (names.includes('jpeg')) targets.push(jpegTarget(0.6));
  const repro = arg('repro', '');
  if (repro) {
    const { target, mutator, input } = inputAt(targets, seed, Number(repro));
    mkdirSync('.out', { recursive: true });
    const file = path.join('.out', `fuzz-${seed}-${repro}.${target.name}.bin`);
    writeFileSync(file, input);
    console.log(`${file}: target ${target.name}, mutator ${mutator.name}, ${input.length} bytes`);
    try {
      await target.run(input);
      console.log('OK');
    } catch (e) {
      console.log(e);
    }
    for (const d of disposers) d();
    return;
  }
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
  } catch {
    /* not a git checkout */
  }
  const meta = {
    commit,
    command: `npm run fuzz -- ${process.argv.slice(2).join(' ')}`,
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, node: process.version, loadavg_at_start: os.loadavg().map((x) => Math.round(x * 100) / 100) },
    limits: FUZZ_LIMITS,
    targets: targets.map((t) => ({ name: t.name, weight: t.weight ?? 1, seeds: t.seeds.length, mutators: t.mutators.map((m) => `${m.name} (${m.weight ?? 1})`) })),
    note: 'codes per target and mutator; OK = the input decoded (through the entropy decoder and the network for .nimg); NON_NIMG_ERROR and slow (> slowMs) are findings. rss in MiB of the whole process.',
  };
  const save = (r: FuzzReport) => {
    if (!out) return;
    mkdirSync(path.dirname(out), { recursive: true });
    // the v2 decoder's WASM memory (it never shrinks: its size is the largest decode's need)
    const wasm = piCore ? { perimage_core_wasm_mb: Math.round((piCore.memorySize() / 2 ** 20) * 10) / 10 } : {};
    writeFileSync(`${out}.tmp`, `${JSON.stringify({ ...meta, ...r, ...wasm, loadavg_now: os.loadavg().map((x) => Math.round(x * 100) / 100) }, null, 1)}\n`);
    renameSync(`${out}.tmp`, out);
  };
  const r = await fuzz(targets, {
    seconds,
    seed,
    maxIterations: Number(arg('max-iterations', 'Infinity')),
    checkpointS: Number(arg('checkpoint', '60')),
    onCheckpoint: (rep) => {
      save(rep);
      const c = Object.entries(rep.targets).map(([n, t]) => `${n} ${t.runs}`).join(', ');
      console.error(`[fuzz] ${rep.elapsedS} s: ${c}; rss ${rep.rss.lastMb} MB (max ${rep.rss.maxMb})`);
    },
    onFinding: (f) => console.error(`[fuzz] FINDING ${f.kind} in ${f.target} (iteration ${f.iteration}, ${f.mutator}, ${f.ms} ms): ${f.error ?? ''}`),
  });
  save(r);
  for (const d of disposers) d();
  console.log(JSON.stringify({ iterations: r.iterations, elapsedS: r.elapsedS, targets: r.targets, findings: r.findings.length, rss: { startMb: r.rss.startMb, maxMb: r.rss.maxMb, lastMb: r.rss.lastMb } }, null, 1));
  process.exit(r.findings.some((f) => f.kind !== 'stall') ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
