/**
 * The fuzz loop: pick a target (by weight), a seed and a mutator, build the input from a
 * per-iteration PRNG (so iteration i of a run with seed s can be rebuilt exactly), run it,
 * and classify the outcome: OK, a NimgError code, or a finding — an exception that is not a
 * NimgError, or an input that took longer than `slowMs`. Counts by target, code and
 * mutator; peak and sampled RSS; periodic checkpoints (a partial run still has numbers).
 */
import { NimgError } from '../src/errors.js';
import type { FuzzTarget, Mutator } from './mutator.js';
import { makeRng, type Rng } from './rng.js';

export interface Finding {
  target: string;
  iteration: number;
  mutator: string;
  kind: 'non-nimg-error' | 'slow' | 'stall';
  ms: number;
  /** slow inputs are run again: the time of that second run */
  rerunMs?: number;
  error?: string;
  /** the input, base64 (only when small) */
  input?: string;
}

export interface TargetReport {
  runs: number;
  byCode: Record<string, number>;
  byMutator: Record<string, { runs: number; byCode: Record<string, number> }>;
  maxMs: number;
  totalMs: number;
  /** inputs over slowMs, twice in a row (the input's own cost) */
  slow: number;
  /**
   * inputs over slowMs once but not when run again at once: the process was starved
   * (other work on a shared machine, nice 19) or paused, not the input's cost
   */
  stalls: number;
  nonNimgErrors: number;
}

export interface FuzzReport {
  seed: number;
  startedAt: string;
  updatedAt: string;
  elapsedS: number;
  iterations: number;
  complete: boolean;
  slowMs: number;
  targets: Record<string, TargetReport>;
  findings: Finding[];
  rss: { startMb: number; maxMb: number; lastMb: number; samples: { iteration: number; elapsedS: number; rssMb: number }[] };
}

export interface FuzzOptions {
  seconds: number;
  maxIterations?: number;
  seed?: number;
  /** an input slower than this is a finding (default 2000 ms) */
  slowMs?: number;
  checkpointS?: number;
  onCheckpoint?(r: FuzzReport): void;
  /** called with each finding as it happens */
  onFinding?(f: Finding): void;
}

const mb = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
const rss = () => (typeof process !== 'undefined' ? process.memoryUsage().rss : 0);

function pickWeighted<T extends { weight?: number }>(items: readonly T[], rng: Rng): T {
  const total = items.reduce((s, x) => s + (x.weight ?? 1), 0);
  let r = rng.next() * total;
  for (const x of items) {
    r -= x.weight ?? 1;
    if (r < 0) return x;
  }
  return items[items.length - 1];
}

/** The input of one iteration (for reproducing a finding). */
export function inputAt(targets: readonly FuzzTarget[], seed: number, iteration: number): { target: FuzzTarget; mutator: Mutator; input: Uint8Array } {
  const rng = makeRng(seed, iteration);
  const target = pickWeighted(targets, rng);
  const s = rng.pick(target.seeds);
  const other = rng.pick(target.seeds);
  const mutator = pickWeighted(target.mutators, rng);
  // now and then two mutations stacked: rarer combinations without losing structure
  let input = mutator.apply(s, rng, other);
  // (structure-aware mutators expect a well-formed file: one that cannot parse the first
  // mutation's output leaves it as it is)
  if (rng.chance(0.15)) {
    try {
      input = pickWeighted(target.mutators, rng).apply(input, rng, other);
    } catch {
      /* keep the single mutation */
    }
  }
  return { target, mutator, input };
}

function emptyTarget(): TargetReport {
  return { runs: 0, byCode: {}, byMutator: {}, maxMs: 0, totalMs: 0, slow: 0, stalls: 0, nonNimgErrors: 0 };
}

export async function fuzz(targets: readonly FuzzTarget[], opts: FuzzOptions): Promise<FuzzReport> {
  const seed = opts.seed ?? 1;
  const slowMs = opts.slowMs ?? 2000;
  const t0 = performance.now();
  const report: FuzzReport = {
    seed,
    startedAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
    elapsedS: 0,
    iterations: 0,
    complete: false,
    slowMs,
    targets: Object.fromEntries(targets.map((t) => [t.name, emptyTarget()])),
    findings: [],
    rss: { startMb: mb(rss()), maxMb: mb(rss()), lastMb: mb(rss()), samples: [] },
  };
  let lastCheckpoint = t0;
  const deadline = t0 + opts.seconds * 1000;
  const maxIt = opts.maxIterations ?? Infinity;
  const checkpoint = () => {
    const r = rss();
    report.rss.lastMb = mb(r);
    report.rss.maxMb = Math.max(report.rss.maxMb, mb(r));
    report.elapsedS = Math.round((performance.now() - t0) / 100) / 10;
    report.updatedAt = new Date().toISOString();
    report.rss.samples.push({ iteration: report.iterations, elapsedS: report.elapsedS, rssMb: mb(r) });
    if (report.rss.samples.length > 400) report.rss.samples = report.rss.samples.filter((_, i) => i % 2 === 0);
    opts.onCheckpoint?.(report);
  };
  for (let it = 0; it < maxIt; it++) {
    if ((it & 63) === 0) {
      const t = performance.now();
      if (t >= deadline) break;
      report.rss.maxMb = Math.max(report.rss.maxMb, mb(rss()));
      if (opts.checkpointS && t - lastCheckpoint >= opts.checkpointS * 1000) {
        lastCheckpoint = t;
        checkpoint();
      }
    }
    const { target, mutator, input } = inputAt(targets, seed, it);
    const tr = report.targets[target.name];
    let code = 'OK';
    let error: unknown = null;
    const ts = performance.now();
    try {
      await target.run(input);
    } catch (e) {
      error = e;
      code = e instanceof NimgError ? e.code : 'NON_NIMG_ERROR';
    }
    const ms = performance.now() - ts;
    report.iterations = it + 1;
    tr.runs++;
    tr.byCode[code] = (tr.byCode[code] ?? 0) + 1;
    const bm = (tr.byMutator[mutator.name] ??= { runs: 0, byCode: {} });
    bm.runs++;
    bm.byCode[code] = (bm.byCode[code] ?? 0) + 1;
    tr.totalMs += ms;
    if (ms > tr.maxMs) tr.maxMs = ms;
    const finding = (kind: Finding['kind'], err?: unknown, rerunMs?: number) => {
      const f: Finding = {
        target: target.name,
        iteration: it,
        mutator: mutator.name,
        kind,
        ms: Math.round(ms),
        rerunMs: rerunMs === undefined ? undefined : Math.round(rerunMs),
        error: err === undefined ? undefined : err instanceof Error ? `${err.name}: ${err.message}\n${err.stack?.split('\n').slice(1, 4).join('\n')}` : String(err),
        input: input.length <= 4096 ? Buffer.from(input).toString('base64') : undefined,
      };
      if (report.findings.length < 200) report.findings.push(f);
      opts.onFinding?.(f);
    };
    if (code === 'NON_NIMG_ERROR') {
      tr.nonNimgErrors++;
      finding('non-nimg-error', error);
    }
    if (ms > slowMs) {
      // the timer is wall time: run the input again to tell its own cost from a stall
      const tr2 = performance.now();
      try {
        await target.run(input);
      } catch {
        /* classified above */
      }
      const again = performance.now() - tr2;
      if (again > slowMs) {
        tr.slow++;
        finding('slow', error ?? undefined, again);
      } else {
        tr.stalls++;
        finding('stall', error ?? undefined, again);
      }
    }
  }
  report.complete = true;
  checkpoint();
  for (const t of Object.values(report.targets)) {
    t.totalMs = Math.round(t.totalMs);
    t.maxMs = Math.round(t.maxMs * 10) / 10;
  }
  return report;
}
